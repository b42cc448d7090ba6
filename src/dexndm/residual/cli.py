"""``dexndm train residual``: the residual policy, trained through the frozen dynamics model.

Examples::

    dexndm sim-episodes --policy runs/generalist/latest.pt --episodes 256 --out data/sim
    dexndm train dynamics --sim-data data/sim --real-data data/real --out runs/ndm
    dexndm train residual --dynamics runs/ndm/dynamics.pt --sim-data data/sim --out runs/residual
    dexndm eval --policy runs/residual/residual.pt      # base + residual (or runs/residual/policy.onnx)

Importing this module registers the residual loaders with ``dexndm.eval.policies`` (cheap: the
loaders import torch and onnxruntime only when called).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from dexndm.dynamics.cli import seed_torch
from dexndm.hand import constants as C
from dexndm.residual.deploy import register

if TYPE_CHECKING:  # torch-heavy modules: the CLI imports them when a command runs
    from dexndm.dynamics.drive import JointDriveModel
    from dexndm.dynamics.models import DynamicsModel
    from dexndm.residual.rollout import ResidualEpisodes
    from dexndm.residual.train import ResidualFitConfig

register()


def closed_phrase(ev) -> str:
    """How much of the modelled gap the residual closes, in words that stay true when there is none
    (the fine-tune kept the sim-pretrained weights, so the model is the reference)."""
    if math.isnan(ev.closed_fraction):
        return "the model predicts no gap from the reference: nothing for the residual to close"
    return f"{100 * ev.closed_fraction:.0f}% of the modelled gap closed"


@dataclass
class ResidualInputs:
    """What ``dexndm train residual`` trains with: its models and its split episode windows."""

    dynamics: DynamicsModel
    reference: DynamicsModel | None
    """The sim-trained dynamics model scored against (None with --score-against q-sim)."""
    drive: JointDriveModel | None
    reference_drive: JointDriveModel | None
    """The sim-trained drive model currents are scored against (None: the recorded currents)."""
    train: ResidualEpisodes
    evaluation: ResidualEpisodes
    episodes: int
    history: int
    real_episodes: bool
    base: str | None
    sim_dynamics_path: Path | None
    sim_drive_path: Path | None


@dataclass
class TrainResidualCmd:
    """Train a residual policy so that base + residual on the real hand reproduces the sim joint
    trajectory, through the frozen dynamics model; export base + residual as one ONNX policy.

    Writes ``OUT/residual.pt`` (+ ``.json``), ``OUT/policy.onnx`` (+ ``.json``; when the base policy
    can be exported) and ``OUT/train`` (best.pt, checkpoints/last.pt, TensorBoard in tb/).
    Rerunning the same command resumes.
    """

    dynamics: Path
    """The real hand's dynamics model (``dexndm train dynamics`` -> dynamics.pt)."""
    sim_data: Path
    """The base policy's simulated episodes (``dexndm sim-episodes``; they carry proprio_obs). Or
    its closed-loop episodes on the real hand with the observations it acted on
    (``benchmarks/task_data_store.py --observations``): the residual then trains on the states the
    hand itself visits, scored against the sim-trained models (--score-against sim-model, and with
    --drive, --current-against sim-model). Recorded under a base + residual, such a store also holds
    the base's own targets (base_targets), which the residual then trains against: an on-policy round."""
    out: Path = Path("runs/residual")
    base: str | None = None
    """The base policy the residual corrects (default: the policy that recorded --sim-data)."""
    held_only: bool = False
    """Train only on episodes that kept the object to the end."""
    hidden: tuple[int, ...] = (256, 256)
    max_correction: float = 0.012
    """Largest correction per joint, rad (the paper's corrections: 0.004-0.012; see
    dexndm.residual.model for the measurement behind this default)."""
    steps: int = 5000
    batch_size: int = 256
    lr: float = 3e-4
    horizon: int = 10
    """K: steps of the rollout through the dynamics model in the loss (dexndm.residual.rollout)."""
    mode: Literal["closed_loop", "teacher_forced"] = "closed_loop"
    """What the residual sees during the K steps: observations rebuilt from the model's positions
    (closed_loop) or the sim's own (teacher_forced; with --horizon 1, the paper's formula)."""
    score_against: Literal["sim-model", "q-sim"] = "sim-model"
    """The sim-trained model's rollout (sim-model) or the sim's positions (q-sim, the paper)."""
    sim_dynamics: Path | None = None
    """The sim-trained model for --score-against sim-model (default: pretrain/best.pt beside
    --dynamics, which dexndm train dynamics writes)."""
    eval_horizon: int = 10
    correction_weight: float = 1e-3
    drive: Path | None = None
    """A drive model of the real hand (``dexndm train drive``): adds the drive term to the objective,
    so the residual also restores the motor current the sim's joints had (ours, not the paper's)."""
    drive_weight: float = 1.0
    """Weight of the drive term when --drive is given (dexndm.residual.train.ResidualFitConfig)."""
    current_against: Literal["sim", "sim-model"] = "sim"
    """What the drive term scores currents against: the episodes' recorded (the sim's) currents, or
    the sim-trained drive model's along the sim-trained dynamics model's rollout (sim-model; needed
    for episodes recorded on the real hand)."""
    sim_drive: Path | None = None
    """The sim-trained drive model for --current-against sim-model (default: pretrain.pt beside
    --drive, which dexndm train drive writes)."""
    max_target_step: float = C.MAX_TARGET_STEP_RAD
    """Largest change of the sent target per control step, rad, in training and in the exported
    policy: the hand's safety cap (0.1). 1/24 (0.0417, the base's own step) reproduces the
    residuals made before session 28, whose corrections rode within the base's step."""
    eval_fraction: float = 0.1
    eval_every: int = 250
    export: bool = True
    """Also export base + residual as OUT/policy.onnx."""
    resume: bool = True
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    progress: bool = True

    def inputs(self) -> ResidualInputs:
        """Load the models and episodes this command trains with and split them into training and
        held-out windows, as ``run`` does; for tools that score other corrections the same way
        (``benchmarks/gain_oracle.py``)."""
        from dexndm.data import EpisodeStore
        from dexndm.dynamics.checkpoint import load_dynamics
        from dexndm.dynamics.datasets import load_episode_arrays
        from dexndm.dynamics.drive import load_drive
        from dexndm.residual.train import split_residual_episodes

        dynamics = load_dynamics(self.dynamics)
        reference, sim_path = None, None
        if self.score_against == "sim-model":
            sim_path = self.sim_dynamics or self.dynamics.parent / "pretrain" / "best.pt"
            if not sim_path.exists():
                raise FileNotFoundError(
                    f"no sim-trained dynamics model at {sim_path} to score against; pass --sim-dynamics, "
                    "or --score-against q-sim (the paper's objective)"
                )
            reference = load_dynamics(sim_path, expected_config=dynamics.config)
        drive = None if self.drive is None else load_drive(self.drive)
        reference_drive, sim_drive_path = None, None
        if drive is not None and self.current_against == "sim-model":
            assert self.drive is not None
            sim_drive_path = self.sim_drive or self.drive.parent / "pretrain.pt"
            if not sim_drive_path.exists():
                raise FileNotFoundError(
                    f"no sim-trained drive model at {sim_drive_path} to score currents against; pass "
                    "--sim-drive, or --current-against sim"
                )
            if reference is None:
                raise ValueError("--current-against sim-model needs --score-against sim-model")
            reference_drive = load_drive(sim_drive_path)
        store = EpisodeStore(self.sim_data, readonly=True)
        if "proprio_obs" not in store.schema:
            raise ValueError(
                f"{self.sim_data} has no proprio_obs: residual training needs the base policy's simulated "
                "episodes (dexndm sim-episodes), or its closed-loop real ones recorded with the "
                "observations it acted on (benchmarks/task_data_store.py --observations), not Chaos Box ones"
            )
        real_episodes = store.dataset_meta.get("info", {}).get("source") == "real"
        if real_episodes:
            # the recorded positions and currents are the real hand's: the sim's must come from models
            if reference is None:
                raise ValueError(
                    f"{self.sim_data} holds real-hand episodes, whose positions are not the sim's: use "
                    "--score-against sim-model"
                )
            if drive is not None and reference_drive is None:
                raise ValueError(
                    f"{self.sim_data} holds real-hand episodes, whose currents are not the sim's: use "
                    "--current-against sim-model"
                )
        indices = store.select(fell_step=lambda s: s < 0) if self.held_only else None
        min_steps = dynamics.window + max(self.horizon, self.eval_horizon) + 1
        recorded_currents = drive is not None and reference_drive is None
        # a base + residual's own episodes (task_data_store --observations) carry the base's targets
        # beside the sent ones: the residual corrects the base, so it trains against those
        targets = "base_targets" if "base_targets" in store.schema else "joint_targets"
        fields = ("joint_pos", targets, "proprio_obs")
        fields += ("motor_current",) if recorded_currents else ()
        arrays = load_episode_arrays(self.sim_data, fields, indices, min_steps)
        arrays["joint_targets"] = arrays.pop(targets)
        train, evaluation = split_residual_episodes(arrays, dynamics.window, self.eval_fraction, self.seed)
        return ResidualInputs(
            dynamics=dynamics, reference=reference, drive=drive, reference_drive=reference_drive,
            train=train, evaluation=evaluation, episodes=int(arrays["joint_pos"].shape[0]),
            history=(arrays["proprio_obs"].shape[2] - 7) // 32, real_episodes=real_episodes,
            base=self.base or store.dataset_meta.get("info", {}).get("policy"),
            sim_dynamics_path=sim_path, sim_drive_path=sim_drive_path,
        )  # fmt: skip

    def fit_config(self) -> ResidualFitConfig:
        """The fit settings of ``run`` (also how it scores its held-out windows)."""
        from dexndm.residual.train import ResidualFitConfig

        return ResidualFitConfig(
            steps=self.steps, batch_size=self.batch_size, lr=self.lr, horizon=self.horizon, mode=self.mode,
            correction_weight=self.correction_weight, eval_horizon=self.eval_horizon,
            eval_every=self.eval_every, drive_weight=0.0 if self.drive is None else self.drive_weight,
            checkpoint_every=max(self.eval_every, 500), log_dir=str(self.out / "train"), resume=self.resume,
            seed=self.seed, device=self.device, progress=self.progress, max_target_step=self.max_target_step,
        )  # fmt: skip

    def run(self) -> int:
        from dexndm.data.artifacts import provenance, sha256_path
        from dexndm.residual.checkpoint import save_residual
        from dexndm.residual.model import ResidualConfig, ResidualPolicyNet
        from dexndm.residual.rollout import largest_gaps
        from dexndm.residual.train import fit_residual

        C.check_target_step(self.max_target_step, "--max-target-step")  # before minutes of training
        seed_torch(self.seed, self.threads)
        inputs = self.inputs()
        net = ResidualPolicyNet(
            ResidualConfig(history=inputs.history, hidden=self.hidden, max_correction=self.max_correction)
        )
        cfg = self.fit_config()
        sources = {
            "base_policy": inputs.base,
            "max_target_step_rad": self.max_target_step,
            "dynamics": {"path": str(self.dynamics.resolve()), "sha256": sha256_path(self.dynamics),
                         "config": inputs.dynamics.config.to_dict()},
            "sim_data": {"path": str(self.sim_data.resolve()), "sha256": sha256_path(self.sim_data),
                         "episodes": inputs.episodes, "held_only": self.held_only},
        }  # fmt: skip
        if (sim_path := inputs.sim_dynamics_path) is not None:
            sources["reference_dynamics"] = {"path": str(sim_path.resolve()), "sha256": sha256_path(sim_path)}
        if self.drive is not None:
            sources["drive"] = {"path": str(self.drive.resolve()), "sha256": sha256_path(self.drive),
                                "weight": self.drive_weight}  # fmt: skip
        if (sim_drive_path := inputs.sim_drive_path) is not None:
            sources["reference_drive"] = {
                "path": str(sim_drive_path.resolve()), "sha256": sha256_path(sim_drive_path)
            }  # fmt: skip
        result = fit_residual(
            net, inputs.dynamics, inputs.train, inputs.evaluation, cfg, extra=sources,
            reference=inputs.reference, drive=inputs.drive, reference_drive=inputs.reference_drive,
        )  # fmt: skip
        ev = result.best
        path = save_residual(
            self.out / "residual.pt",
            net,
            {
                **sources,
                "step": result.best_step,
                "eval": vars(ev),
                "provenance": provenance(None, vars(self)),
            },
        )
        print(f"residual policy: {path} (best step {result.best_step})")
        print(
            f"held-out {'real' if inputs.real_episodes else 'sim'} episodes, {ev.horizon} steps through the "
            f"dynamics model ({self.mode}), error vs "
            f"{self.score_against}: {1e3 * ev.uncorrected_mae:.2f} mrad without residual -> "
            f"{1e3 * ev.corrected_mae:.2f} mrad with "
            f"({closed_phrase(ev)}); mean |correction| {1e3 * ev.mean_abs_correction:.2f} mrad"
        )
        if inputs.drive is not None:
            print(
                f"drive model's current vs the sim's ({self.current_against}): "
                f"{ev.drive_uncorrected_mae:.1f} mA without residual -> "
                f"{ev.drive_corrected_mae:.1f} mA with"
            )
        if ev.uncorrected_per_joint:
            print(f"modelled gap by joint: {largest_gaps(ev)}")
        if self.export:
            self._export(net, inputs.base, inputs.history, sources)
        return 0

    def _export(self, net, base: str | None, history: int, sources: dict) -> None:
        from dexndm.eval.policies import load_policy
        from dexndm.residual.export import BasePlusResidual, base_torch_module, export_onnx

        if base is None:
            print("no base policy named (--base): not exported; base + residual runs from residual.pt")
            return
        try:
            module = base_torch_module(load_policy(base))
        except (ValueError, NotImplementedError) as e:
            print(f"not exported as ONNX: {e}")
            return
        path, diff = export_onnx(
            BasePlusResidual(module, net), self.out / "policy.onnx", history,
            sources={**sources, "residual": str((self.out / "residual.pt").resolve())},
        )  # fmt: skip
        print(f"exported base + residual: {path} (onnxruntime vs torch: {diff:.1e} rad)")


@dataclass
class TrainDeltaActionCmd:
    """Train an ASAP-style delta-action model (a baseline) from a real hand's recorded episodes.

    Learns ``delta(o_t, a_t)`` so that the *sim-trained* dynamics model driven by ``a_t + delta``
    reproduces the recorded real positions (``dexndm.residual.delta_action``). Use the result with
    ``dexndm train specialist --delta-action OUT/delta_action.pt`` to fine-tune in the sim with the
    offset in the loop, then distill. Writes ``OUT/delta_action.pt`` (+ ``.json``) and ``OUT/train``.
    """

    real_data: Path
    """The real hand's recorded episodes (``dexndm collect``; the paper's ASAP baseline: free hand)."""
    sim_dynamics: Path | None = None
    """The sim's joint response as a dynamics model. Default: a joint-wise model fitted here on the
    recorded targets replayed in the training sim's hand (no object: the regime of free-hand data;
    a model of the sim's *task* episodes errs more on free-hand windows than the sim does, and the
    offset would learn that error instead of the gap)."""
    sim_fit_steps: int = 3000
    out: Path = Path("runs/delta_action")
    structure: Literal["whole", "joint"] = "whole"
    """``whole``: the offset of every joint from the whole observation (ASAP's delta-action model);
    ``joint``: each joint's offset from its own history and target alone, one small net per joint
    (a learned actuator model, the UAN-style baseline)."""
    hidden: tuple[int, ...] | None = None
    """Hidden widths (default: 256 x 256 for ``whole``; 64 x 64 per joint for ``joint``, where 16
    nets of 256 x 256 cost ~8x the whole-state net's time per step)."""
    max_correction: float = 0.05
    """Largest offset per joint, rad."""
    steps: int = 3000
    batch_size: int = 256
    lr: float = 3e-4
    horizon: int = 10
    correction_weight: float = 1e-3
    eval_fraction: float = 0.1
    eval_every: int = 250
    resume: bool = True
    seed: int = 0
    threads: int | None = None
    progress: bool = True

    def run(self) -> int:
        from dexndm.dynamics.checkpoint import load_dynamics
        from dexndm.residual.checkpoint import save_residual
        from dexndm.residual.delta_action import delta_action_sources, recorded_observations
        from dexndm.residual.model import ResidualConfig, build_residual_net
        from dexndm.residual.train import ResidualFitConfig, fit_residual, split_residual_episodes
        from dexndm.sysid import load_joint_data

        seed_torch(self.seed, self.threads)
        # the windows need the observation history (T + 1 steps) plus the horizon
        data = load_joint_data(self.real_data, min_steps=self.horizon + 12)
        arrays = {"joint_pos": data.joint_pos, "joint_targets": data.joint_targets}
        quats = data.wrist_quat
        if self.sim_dynamics is not None:
            sim_model = load_dynamics(self.sim_dynamics)
        else:
            sim_model = self._fit_sim_model(arrays, quats)
        hidden = self.hidden or ((64, 64) if self.structure == "joint" else (256, 256))
        net = build_residual_net(
            ResidualConfig(hidden=hidden, max_correction=self.max_correction, structure=self.structure)
        )
        arrays["proprio_obs"] = recorded_observations(
            arrays["joint_pos"], arrays["joint_targets"], quats, net.config.history
        )
        train, evaluation = split_residual_episodes(arrays, sim_model.window, self.eval_fraction, self.seed)
        cfg = ResidualFitConfig(
            steps=self.steps, batch_size=self.batch_size, lr=self.lr, horizon=self.horizon,
            mode="closed_loop", correction_weight=self.correction_weight, eval_horizon=self.horizon,
            eval_every=self.eval_every, checkpoint_every=max(self.eval_every, 500),
            log_dir=str(self.out / "train"), resume=self.resume, seed=self.seed, progress=self.progress,
            max_target_step=None,  # the sim env adds the delta to its targets uncapped
        )  # fmt: skip
        sources = delta_action_sources(
            self.sim_dynamics or self.out / "sim_model.pt", self.real_data, int(arrays["joint_pos"].shape[0])
        )
        # scored against the recorded real positions (no reference model): the sim model must follow them
        result = fit_residual(net, sim_model, train, evaluation, cfg, extra=sources)
        ev = result.best
        path = save_residual(self.out / "delta_action.pt", net, {**sources, "step": result.best_step,
                                                                   "eval": vars(ev)})  # fmt: skip
        print(f"delta-action model: {path} (best step {result.best_step})")
        print(
            f"held-out real episodes, {ev.horizon} steps through the sim-trained model: "
            f"{1e3 * ev.uncorrected_mae:.2f} mrad from the real positions without the offset -> "
            f"{1e3 * ev.corrected_mae:.2f} mrad with it; "
            f"mean |offset| {1e3 * ev.mean_abs_correction:.2f} mrad"
        )
        return 0

    def _fit_sim_model(self, arrays: dict, quats: np.ndarray):
        """A joint-wise model of the training sim's hand under the recorded targets (saved to OUT)."""
        from dexndm.dynamics import FitConfig, fit_dynamics, split_windows
        from dexndm.dynamics.checkpoint import save_dynamics
        from dexndm.dynamics.models import DynamicsConfig, build_dynamics
        from dexndm.hand.model import HandConfig
        from dexndm.sysid import simulate_joint_data

        sim = simulate_joint_data(
            HandConfig(), 0, arrays["joint_targets"], quats, start_pos=arrays["joint_pos"][:, 0]
        )
        model = build_dynamics(DynamicsConfig(kind="joint"))
        train, evaluation = split_windows(
            sim.joint_pos[:, 1:], sim.joint_targets[:, 1:], model.window, seed=self.seed
        )
        fit = FitConfig(
            steps=self.sim_fit_steps, eval_every=max(self.sim_fit_steps // 6, 1), progress=self.progress
        )
        fit_dynamics(model, train, evaluation, fit)
        save_dynamics(self.out / "sim_model.pt", model, extra={"stage": "sim replay of the real targets"})
        return model
