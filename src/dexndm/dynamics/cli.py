"""``dexndm train dynamics`` and ``dexndm sim-episodes``.

Examples::

    # simulated episodes of a policy for pre-training (and for the residual policy)
    dexndm sim-episodes --policy runs/generalist/latest.pt --episodes 256 --out data/sim
    # pre-train on them, fine-tune on collected real episodes, keep the best eval checkpoint
    dexndm train dynamics --arch joint --sim-data data/sim --real-data data/real --out runs/ndm
    # the same command again resumes; runs/ndm/dynamics.pt is the model later stages load
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


def seed_torch(seed: int, threads: int | None) -> None:
    """Seed torch and set its thread count (None: torch's choice) for a training command."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)


@dataclass
class TrainDynamicsCmd:
    """Train a dynamics model: pre-train on sim episodes, fine-tune on real ones (9:1, best eval).

    Writes ``OUT/dynamics.pt`` (+ ``.json``) with the normalisation statistics inside, and per stage
    ``OUT/pretrain`` / ``OUT/finetune`` (best.pt, checkpoints/last.pt, TensorBoard in tb/).
    """

    arch: Literal["joint", "finger", "whole"] = "joint"
    """Joint-wise (DexNDM), finger-wise or whole-hand model."""
    sim_data: Path | None = None
    """Episode store of simulated episodes to pre-train on (``dexndm sim-episodes``)."""
    real_data: Path | None = None
    """Episode store of real episodes to fine-tune on (``dexndm collect``)."""
    out: Path = Path("runs/dynamics")
    window: int = 10
    """History W in control steps (0.5 s at 20 Hz)."""
    hidden: tuple[int, ...] = (128, 128)
    """Hidden widths of each MLP (per joint for the joint-wise model)."""
    pretrain_steps: int = 20_000
    finetune_steps: int = 10_000
    batch_size: int = 1024
    lr: float = 1e-3
    """Pre-training learning rate (cosine decay)."""
    finetune_lr: float = 3e-4
    rollout_horizon: int = 1
    """k of the k-step open-loop training loss (1: one-step loss)."""
    finetune_anchor: float = 0.0
    """Pull the fine-tune's weights toward the sim-pretrained ones with this weight (L2-SP;
    ``FitConfig.anchor_weight``), so the model keeps the sim's dynamics where the real episodes do
    not reach. 0: off. Measured on soft Table 4 at 1e-3 (docs/results.md 4g): it narrowed the
    spread over three seeds without raising their mean, so it is not on by default."""
    finetune_rollout_horizon: int | None = None
    """k of the fine-tune's loss, if not --rollout-horizon: e.g. 5 on the real episodes after a
    one-step pre-training (docs/results.md 3d: lower 10-step error; each step costs ~k times)."""
    eval_fraction: float = 0.1
    """Held-out episodes per dataset (the paper: 9:1)."""
    eval_every: int = 500
    init: Path | None = None
    """Start from this dynamics checkpoint instead of random weights (its config must match)."""
    resume: bool = True
    """Continue each stage from its last checkpoint in OUT; --no-resume starts the stages over."""
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    """torch threads (default: torch's choice)."""
    progress: bool = True

    def run(self) -> int:
        from dexndm.dynamics.models import MODEL_NAMES
        from dexndm.dynamics.pipeline import (
            DynamicsTrainingConfig,
            kept_pretrained,
            train_dynamics,
            worse_than_hold,
        )
        from dexndm.dynamics.train import FitConfig

        seed_torch(self.seed, self.threads)

        def fit(steps: int, lr: float, horizon: int, anchor: float = 0.0) -> FitConfig:
            return FitConfig(
                steps=steps, batch_size=self.batch_size, lr=lr, rollout_horizon=horizon, anchor_weight=anchor,
                eval_every=self.eval_every, checkpoint_every=max(self.eval_every, 1000), resume=self.resume,
                seed=self.seed, device=self.device, progress=self.progress,
            )  # fmt: skip

        finetune_horizon = self.finetune_rollout_horizon or self.rollout_horizon
        cfg = DynamicsTrainingConfig(
            arch=self.arch, window=self.window, hidden=self.hidden,
            pretrain=fit(self.pretrain_steps, self.lr, self.rollout_horizon),
            finetune=fit(self.finetune_steps, self.finetune_lr, finetune_horizon, self.finetune_anchor),
            eval_fraction=self.eval_fraction, split_seed=self.seed,
        )  # fmt: skip
        result = train_dynamics(self.out, self.sim_data, self.real_data, cfg, init=self.init)
        print(f"{MODEL_NAMES[self.arch]} dynamics model: {result.path}")
        print("| eval episodes | 1-step (mrad) | hold 1-step | k-step (mrad) | hold k-step | k |")
        print("|---|---|---|---|---|---|")
        for name, err in result.errors.items():
            print(
                f"| {name} | {1e3 * err.one_step:.3f} | {1e3 * err.hold_one_step:.3f} "
                f"| {1e3 * err.final:.3f} | {1e3 * err.hold_final:.3f} | {err.horizon} |"
            )
        for line in worse_than_hold(result.errors) + kept_pretrained(result):
            print(line, file=sys.stderr)
        return 0


@dataclass
class TrainDriveCmd:
    """Train the joint-wise drive model (motor current from each joint's history) for a residual
    that matches force as well as positions (``dexndm train residual --drive``; ours, not the paper's).

    Pre-trains on the simulated episodes, fine-tunes on the real ones (9:1 split, best eval);
    writes ``OUT/pretrain.pt`` and ``OUT/drive.pt``. A rerun loads the stages already written.
    """

    sim_data: Path
    """The base policy's simulated episodes (``dexndm sim-episodes``; motor_current is the sim torque)."""
    real_data: Path
    """The real hand's collected episodes (``dexndm collect``; motor_current as the motors report it)."""
    out: Path = Path("runs/drive")
    window: int = 10
    """History W, control steps; must be the dynamics model's for the residual."""
    hidden: tuple[int, ...] = (64, 64)
    pretrain_steps: int = 3000
    finetune_steps: int = 1500
    max_real_episodes: int | None = None
    """Use only the first N real episodes (default: all)."""
    seed: int = 0
    threads: int | None = None
    progress: bool = True

    def run(self) -> int:
        from dexndm.dynamics.datasets import load_episode_arrays
        from dexndm.dynamics.drive import DriveConfig, DriveFitConfig, train_drive_model

        seed_torch(self.seed, self.threads)
        fields = ("joint_pos", "joint_targets", "motor_current")
        sim = load_episode_arrays(self.sim_data, fields, min_steps=self.window + 2)
        indices = None if self.max_real_episodes is None else range(self.max_real_episodes)
        real = load_episode_arrays(self.real_data, fields, indices, min_steps=self.window + 2)
        _, summary = train_drive_model(
            sim, real, self.out, DriveConfig(window=self.window, hidden=self.hidden),
            DriveFitConfig(steps=self.pretrain_steps, seed=self.seed, progress=self.progress),
            DriveFitConfig(steps=self.finetune_steps, lr=3e-4, seed=self.seed, progress=self.progress),
        )  # fmt: skip
        print(
            f"drive model: {self.out / 'drive.pt'}; held-out real episodes, next-step current error "
            f"{summary['real_eval_mae_ma_sim_only']:.1f} mA sim-trained -> "
            f"{summary['real_eval_mae_ma']:.1f} mA fine-tuned ({len(real['joint_pos'])} real episodes)"
        )
        return 0


@dataclass
class SimEpisodesCmd:
    """Record a policy's episodes in the training sim (for dynamics pre-training and the residual).

    Rerunning the same command resumes (episodes already in OUT are kept, not re-simulated).
    """

    policy: str = "random"
    """'hold', 'random' or a checkpoint path (the generalist for the residual policy)."""
    out: Path = Path("data/sim")
    episodes: int = 64
    steps: int = 400
    """Control steps per episode (400 = 20 s)."""
    num_envs: int = 16
    object: tuple[str, ...] = ("cube",)
    """Object names, categories or mesh paths."""
    wrist: tuple[str, ...] = ("all",)
    axis: tuple[str, ...] = ("principal",)
    """Axis names, 'principal', 'random' or vectors 'x,y,z'."""
    randomize: bool = True
    """Training domain randomization (as the policy was trained); --no-randomize: nominal physics."""
    action_noise: float = 0.0
    """Std of Gaussian noise on the relative actions in noisy episodes (action units)."""
    noise_prob: float = 0.5
    seed: int = 0
    grasp_cache_dir: Path | None = None
    progress: bool = True

    def run(self) -> int:
        from dexndm.dynamics.sim_episodes import SimEpisodeConfig, record_policy_episodes
        from dexndm.sim.config import EnvConfig, RandomizationConfig

        env_cfg = EnvConfig(
            objects=self.object, wrists=self.wrist, axes=self.axis, seed=self.seed,
            randomization=RandomizationConfig() if self.randomize else RandomizationConfig.none(),
            grasp_cache_dir=None if self.grasp_cache_dir is None else str(self.grasp_cache_dir),
        )  # fmt: skip
        cfg = SimEpisodeConfig(
            episodes=self.episodes, steps=self.steps, num_envs=self.num_envs, action_noise=self.action_noise,
            noise_prob=self.noise_prob, seed=self.seed,
        )  # fmt: skip
        store = record_policy_episodes(self.policy, env_cfg, self.out, cfg, progress=self.progress)
        held = sum(store.meta(i)["fell_step"] < 0 for i in store.episode_indices())
        print(f"{len(store)} episodes in {self.out} ({held} held the object to the end)")
        store.close()
        return 0
