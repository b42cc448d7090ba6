"""Running base + residual where policies are run: ``load_policy("residual.pt" | "policy.onnx")``.

The evaluator and the hand loops drive policies through *relative* actions
(:class:`dexndm.eval.policies.Policy`: ``target += clip(a, -1, 1) / 24``). Base + residual is an
*absolute*-target policy with a state (the base target chain, see :mod:`dexndm.residual.export`),
so :class:`TargetChainPolicy` adapts it: it keeps, per env, the base chain and a replica of the
target the env holds, and returns ``24 (target - held)`` clipped to ``+-action_limit``. The base
alone moves a target at most 1/24 rad per tick; base + residual may move it up to ``max_step_rad``
(the hand's safety cap, 0.1 rad, by default), the limit the residual was trained under
(:class:`dexndm.residual.rollout.ResidualRollout`): capping the sum at 1/24 would cut exactly the
corrections that lead a lagging joint (13 % of joint-steps on a soft-gain hand at base up,
docs/results.md section 4f). A wanted change beyond the cap is sent in parts over the next ticks
(``clipped_fraction`` counts them).

Both chains start, at every episode start, from the newest target in the observation (at a reset
the env fills the whole target history with the grasp targets it holds).

The observation's target history is rewritten with the *base* targets before the policies see
it: the loop that drives the hand records the targets it sent (base + correction), but the base
policy was trained on its own targets, and the residual was trained on the base policy's
simulated observations (method.md: the correction makes the real joints follow the trajectory
the base targets produce in sim). Teleoperation keeps the same convention
(:mod:`dexndm.teleop.session`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dexndm.hand import constants as C
from dexndm.sim.observations import push_history, split_proprio

StepFn = Callable[[dict[str, np.ndarray], np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``fn(obs, prev_base_targets (N, 16)) -> (joint_targets (N, 16), base_joint_targets (N, 16))``, rad."""


def newest_targets(proprio: np.ndarray) -> np.ndarray:
    """The newest joint targets in proprioceptive observations ``(N, T*32 + 7)``: ``(N, 16)`` rad."""
    history = (proprio.shape[1] - 7) // (2 * C.NUM_JOINTS)
    return np.asarray(split_proprio(proprio, history)[1][:, -1], dtype=np.float64)


class TargetChainPolicy:
    """An absolute-target policy with a base-target state, behind the relative-action interface."""

    uses_privileged = False

    def __init__(
        self,
        step: StepFn,
        description: str,
        on_reset: Callable[[np.ndarray], None] | None = None,
        max_step_rad: float = C.MAX_TARGET_STEP_RAD,
    ):
        self._step = step
        self.max_step_rad = C.check_target_step(max_step_rad, "max_step_rad")
        self._on_reset = on_reset
        self.description = description
        self._base: np.ndarray | None = None
        self._held: np.ndarray | None = None
        self._base_hist: np.ndarray | None = None
        self._fresh: np.ndarray | None = None
        self.steps = 0
        self.clipped = 0
        self.last_observation: np.ndarray | None = None
        """``(N, D)`` the observation the last ``act`` chose its targets from: the given one with the
        base's own targets in its history (what the base and the residual read), for recorders."""

    @property
    def base_targets(self) -> np.ndarray | None:
        """``(N, 16)`` rad: the base's own targets of the last ``act`` (before any correction)."""
        return None if self._base is None else np.array(self._base)

    @property
    def action_limit(self) -> float:
        """What the loops clip this policy's actions to (see :func:`dexndm.eval.policies.action_limit`)."""
        return self.max_step_rad / C.ACTION_SCALE

    @property
    def clipped_fraction(self) -> float:
        """Fraction of joint-steps whose wanted target change exceeded ``max_step_rad``."""
        return self.clipped / max(self.steps * C.NUM_JOINTS, 1)

    def reset(self, env_ids: np.ndarray) -> None:
        env_ids = np.asarray(env_ids, dtype=int)
        if self._fresh is None or (len(env_ids) and env_ids.max() >= len(self._fresh)):
            self._fresh = None  # a new batch size: start every env over at the next act
        else:
            self._fresh[env_ids] = True
        if self._on_reset is not None:
            self._on_reset(env_ids)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        proprio = np.asarray(obs["proprio"], dtype=np.float32)
        n = len(proprio)
        history = (proprio.shape[1] - 7) // (2 * C.NUM_JOINTS)
        if self._fresh is None or len(self._fresh) != n:
            self._fresh = np.ones(n, dtype=bool)
            self._base = np.zeros((n, C.NUM_JOINTS))
            self._held = np.zeros((n, C.NUM_JOINTS))
            self._base_hist = np.zeros((n, history, C.NUM_JOINTS), dtype=np.float32)
        assert self._base is not None and self._held is not None and self._base_hist is not None
        if self._fresh.any():
            start = newest_targets(proprio[self._fresh])
            self._base[self._fresh] = start
            self._held[self._fresh] = start
            self._base_hist[self._fresh] = start[:, None]
            self._fresh[:] = False
        seen = proprio.copy()
        seen[:, : history * 2 * C.NUM_JOINTS].reshape(n, history, 2, C.NUM_JOINTS)[:, :, 1] = self._base_hist
        self.last_observation = seen
        targets, self._base = self._step({"proprio": seen}, self._base)
        push_history(self._base_hist, self._base)
        raw = (np.asarray(targets, dtype=np.float64) - self._held) / C.ACTION_SCALE
        self.steps += n
        lim = self.action_limit
        self.clipped += int((np.abs(raw) > lim * (1.0 + 1e-4)).sum())
        actions = np.clip(raw, -lim, lim)
        self._held = C.clamp_to_limits(self._held + actions * C.ACTION_SCALE)
        return actions

    def __repr__(self) -> str:
        return f"TargetChainPolicy({self.description})"


def residual_policy(
    base: Any, residual: Any, description: str = "", max_step_rad: float = C.MAX_TARGET_STEP_RAD
) -> TargetChainPolicy:
    """Base policy object (relative actions, any :class:`~dexndm.eval.policies.Policy`) + a
    :class:`~dexndm.residual.model.ResidualPolicyNet`, run step by step in torch; the sent target
    moves at most ``max_step_rad`` per tick."""
    import torch

    from dexndm.eval.policies import reset_policy

    if getattr(base, "uses_privileged", False):
        raise ValueError(
            f"base policy {base!r} reads privileged observations; a residual corrects a generalist"
        )
    residual = residual.eval()

    @torch.no_grad()
    def step(obs: dict[str, np.ndarray], prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        delta = np.clip(np.asarray(base.act(obs), dtype=np.float64), -1.0, 1.0)
        base_targets = C.clamp_to_limits(prev + delta * C.ACTION_SCALE)
        correction = residual(
            torch.as_tensor(obs["proprio"]), torch.as_tensor(base_targets, dtype=torch.float32)
        ).numpy()
        return C.clamp_to_limits(base_targets + correction), base_targets

    return TargetChainPolicy(
        step, description or f"{base!r} + residual", lambda ids: reset_policy(base, ids), max_step_rad
    )


def trained_max_step(info: dict[str, Any]) -> float:
    """The target step cap a residual was trained under (``max_target_step_rad`` in its
    checkpoint's ``extra`` or its ONNX sidecar's ``sources``): 1/24 rad for those made before the
    cap was modelled, which were deployed with the base's step as the cap."""
    value = info.get("max_target_step_rad")
    return C.ACTION_SCALE if value is None else float(value)


def onnx_policy(path: Path, threads: int = 1, max_step_rad: float | None = None) -> TargetChainPolicy:
    """An exported base + residual graph (:mod:`dexndm.residual.export`) run with onnxruntime;
    ``max_step_rad`` defaults to the cap the residual was trained under (its sidecar)."""
    import onnxruntime as ort

    info = read_onnx_sidecar(path)
    if max_step_rad is None:
        max_step_rad = trained_max_step(info.get("sources", {}))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    expected = int(info["inputs"]["proprio"]["shape"][1])

    def step(obs: dict[str, np.ndarray], prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        proprio = obs["proprio"]
        if proprio.shape[1] != expected:
            raise ValueError(
                f"{path} expects observations of {expected} numbers (history "
                f"{info['observation']['history']}), got {proprio.shape[1]}"
            )
        targets, base = session.run(
            ["joint_targets", "base_joint_targets"],
            {"proprio": proprio, "prev_joint_targets": prev.astype(np.float32)},
        )
        return targets.astype(np.float64), base.astype(np.float64)

    return TargetChainPolicy(step, str(path), max_step_rad=max_step_rad)


def read_onnx_sidecar(path: Path) -> dict[str, Any]:
    """The deployment sidecar ``<path>.json`` of an exported policy, checked for format."""
    from dexndm.residual.export import ONNX_FORMAT, ONNX_FORMAT_VERSION

    side = path.with_name(path.name + ".json")
    try:
        info = json.loads(side.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} has no sidecar {side.name}: a dexndm ONNX policy needs it (observation layout, "
            "joint order, action scale); copy it along with the model"
        ) from None
    if info.get("format") != ONNX_FORMAT or info.get("format_version") != ONNX_FORMAT_VERSION:
        raise ValueError(
            f"{side} describes format {info.get('format')!r} version {info.get('format_version')!r}; this "
            f"dexndm runs {ONNX_FORMAT!r} version {ONNX_FORMAT_VERSION}"
        )
    return info


def load_residual_checkpoint_policy(
    path: Path, payload: dict[str, Any], base: str | None = None, max_step_rad: float | None = None
) -> TargetChainPolicy:
    """Base + residual from a residual checkpoint; the base is ``base`` or the one it was trained for.

    A relative base path is looked up as given, then beside the residual file. ``max_step_rad``
    defaults to the target step cap the residual was trained under.
    """
    from dexndm.eval.policies import BASELINES, load_policy
    from dexndm.residual.checkpoint import residual_from_payload

    net = residual_from_payload(payload, str(path))
    spec = base or payload["extra"].get("base_policy")
    if not spec:
        raise ValueError(
            f"{path} does not name its base policy; pass base=... (the policy the residual corrects)"
        )
    if spec.lower() not in BASELINES and not Path(spec).exists() and (path.parent / spec).exists():
        spec = str(path.parent / spec)
    if max_step_rad is None:
        max_step_rad = trained_max_step(payload["extra"])
    return residual_policy(load_policy(spec), net, f"{spec} + residual {path}", max_step_rad)


def load_pt_policy(path: Path, **kwargs: Any) -> Any:
    """``.pt`` loader: a residual checkpoint here, any other to the policy stage's loader."""
    import torch

    from dexndm.residual.checkpoint import is_residual_payload

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # not ours to judge: the policy stage's loader reports unreadable files
        payload = None
    if is_residual_payload(payload):
        return load_residual_checkpoint_policy(path, payload, kwargs.get("base"), kwargs.get("max_step_rad"))
    from dexndm.policy.inference import load_checkpoint_policy

    return load_checkpoint_policy(path, **kwargs)


def load_onnx_policy(path: Path, **kwargs: Any) -> Any:
    """``.onnx`` loader: an exported base + residual here (its sidecar says so), others (a
    generalist exported alone) to the policy stage's loader."""
    from dexndm.residual.export import ONNX_FORMAT

    side = path.with_name(path.name + ".json")
    if side.exists() and json.loads(side.read_text()).get("format") == ONNX_FORMAT:
        return onnx_policy(path, int(kwargs.get("threads", 1)), kwargs.get("max_step_rad"))
    from dexndm.policy.inference import load_onnx_policy as load_policy_stage_onnx

    return load_policy_stage_onnx(path, **kwargs)


def register() -> None:
    """Teach :func:`dexndm.eval.policies.load_policy` residual checkpoints and exported policies.

    Both loaders hand the files that are not theirs to the policy stage's loaders, so they can
    take the ``.pt`` and ``.onnx`` suffixes whatever registers first.
    """
    from dexndm.eval.policies import register_policy_loader

    # never over a loader the user registered for the suffix
    register_policy_loader(".pt", load_pt_policy, replace=False)
    register_policy_loader(".onnx", load_onnx_policy, replace=False)
