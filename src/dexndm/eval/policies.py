"""The policy interface the evaluator and the renderer drive, two baselines, and a loader registry.

A policy is any object with ``act(obs) -> actions``::

    class MyPolicy:
        uses_privileged = False            # optional; True to also receive obs["privileged"]

        def reset(self, env_ids):          # optional; called for envs that start a new episode
            ...

        def act(self, obs):                # obs["proprio"]: (N, 327) float32
            return np.zeros((len(obs["proprio"]), 16))   # (N, 16) in [-1, 1]

Checkpoints are loaded through ``load_policy(path)``, which dispatches on the file suffix to a
loader registered with ``register_policy_loader`` (the policy stage registers ``.pt`` / ``.onnx``),
so this module never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from dexndm.hand import constants as C

PolicyLoader = Callable[..., "Policy"]
"""``fn(path: Path, **kwargs) -> Policy``."""

_LOADERS: dict[str, PolicyLoader] = {}
BASELINES = ("hold", "random")


@runtime_checkable
class Policy(Protocol):
    """Maps a batch of observations to relative joint actions.

    Optional members, looked up with ``getattr``: ``reset(env_ids: np.ndarray) -> None`` (clear
    per-env state; the batch size may change between calls with ``env_ids = arange(N)``),
    ``uses_privileged: bool`` (default False: the policy sees only ``obs["proprio"]``, the
    observation a real hand can build) and ``action_limit: float`` (default 1: the loops that run
    it clip its actions to ``[-action_limit, action_limit]``; base + residual sends more than the
    base's 1/24 rad per tick, see :func:`action_limit`).
    """

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Args: obs: ``{"proprio": (N, D) float32}`` (+ ``"privileged"`` if ``uses_privileged``).
        Returns: (N, 16) actions in [-1, 1], sim joint order (``target += a / 24`` rad)."""
        ...


def uses_privileged(policy: Policy) -> bool:
    """Whether ``policy`` declared that it reads the privileged observation."""
    return bool(getattr(policy, "uses_privileged", False))


def action_limit(policy: Policy) -> float:
    """The largest relative action the loops take from ``policy`` (1 unless it declares more).

    A base policy's actions are clipped to +-1 (its target moves at most 1/24 rad per tick, as in
    training). A deployed base + residual declares ``MAX_TARGET_STEP_RAD / ACTION_SCALE``: the
    correction rides on top of the base's step, up to the hand's safety cap.
    """
    limit = float(getattr(policy, "action_limit", 1.0))
    C.check_target_step(limit * C.ACTION_SCALE, f"policy {policy!r} declares action_limit {limit}: its step")
    return limit


def policy_view(policy: Policy, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What ``policy`` may see of an env observation: all of it if it declared it reads the
    privileged one, else only ``proprio`` (what a real hand gives)."""
    return obs if uses_privileged(policy) else {"proprio": obs["proprio"]}


def reset_policy(policy: Policy, env_ids: np.ndarray) -> None:
    """Call the policy's optional ``reset`` hook for ``env_ids`` (int array)."""
    hook = getattr(policy, "reset", None)
    if hook is not None:
        hook(np.asarray(env_ids, dtype=int))


class HoldPolicy:
    """Zero actions: the joint targets stay at the grasp, so the object should not turn."""

    uses_privileged = False

    def reset(self, env_ids: np.ndarray) -> None:
        pass

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return np.zeros((len(obs["proprio"]), C.NUM_JOINTS))

    def __repr__(self) -> str:
        return "HoldPolicy()"


class RandomPolicy:
    """Actions uniform in [-1, 1], i.i.d. per step and joint (a floor for any learned policy)."""

    uses_privileged = False

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, env_ids: np.ndarray) -> None:
        pass

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, size=(len(obs["proprio"]), C.NUM_JOINTS))

    def __repr__(self) -> str:
        return f"RandomPolicy(seed={self.seed})"


def register_policy_loader(suffix: str, fn: PolicyLoader, *, replace: bool = True) -> None:
    """Make ``load_policy`` open files ending in ``suffix`` (``".pt"``, ``".onnx"``) with ``fn``.

    ``fn(path: Path, **kwargs) -> Policy``; registering a suffix again replaces its loader.
    """
    suffix = suffix.lower()
    if not suffix.startswith("."):
        suffix = "." + suffix
    if replace or suffix not in _LOADERS:
        _LOADERS[suffix] = fn


def registered_suffixes() -> tuple[str, ...]:
    return tuple(sorted(_LOADERS))


def _register_builtin_loaders() -> None:
    # imported on first use: the policy stage pulls in torch, which this module avoids; a
    # loader the user registered for the same suffix wins
    from dexndm.policy.inference import register
    from dexndm.residual.deploy import register as register_residual

    # residual loaders first: they hand files that are not theirs to the policy stage's loaders
    register_residual()
    register()


def load_policy(spec: str | Path, *, seed: int = 0, **kwargs: Any) -> Policy:
    """A policy from a command-line spec: ``"hold"``, ``"random"`` or a checkpoint path.

    Args:
        spec: the baseline name or the checkpoint file.
        seed: the random baseline's seed.
        kwargs: passed to the checkpoint loader.
    Raises:
        NotImplementedError: a checkpoint whose suffix has no registered loader.
        FileNotFoundError: a checkpoint path that does not exist.
        ValueError: neither a baseline name nor something that looks like a file.
    """
    text = str(spec).strip()
    if text.lower() == "hold":
        return HoldPolicy()
    if text.lower() == "random":
        return RandomPolicy(seed)
    path = Path(text).expanduser()
    if not path.suffix and not path.exists():
        raise ValueError(f"unknown policy {text!r}: use one of {list(BASELINES)} or a checkpoint path")
    _register_builtin_loaders()
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        known = ", ".join(registered_suffixes()) or "none yet"
        raise NotImplementedError(
            f"cannot load policy checkpoint {text!r}: no loader for {path.suffix!r} files; use hold, random "
            f"or one of the registered checkpoint types ({known})"
        )
    if not path.exists():
        raise FileNotFoundError(f"policy checkpoint {path} does not exist")
    return loader(path, **kwargs)
