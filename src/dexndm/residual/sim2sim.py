"""The residual pipeline against a known, injected reality gap, end to end in simulation.

"Reality" is the training sim with one thing changed (e.g. the PD stiffness x0.6, or extra
command latency). With it the whole method runs in minutes and its effect is measurable exactly:

1. the base policy's episodes in the nominal sim (train and held-out sets): ``o_t``, ``a_t``, ``q^sim``;
2. "real" data: the train episodes' target sequences replayed open loop in the gapped sim (the
   Chaos Box idea: replayed policy actions);
3. a dynamics model pre-trained on the sim episodes and fine-tuned on the replays;
4. the residual, trained through the frozen model on the sim episodes;
5. on the held-out episodes, the base targets replayed in the gapped sim without and with the
   residual (closed loop on the gapped sim's observations): the joint-tracking error against the
   nominal sim's ``q^sim``, counted up to the first step the object fell in either run.

:class:`SmoothWavePolicy` is a stand-in base policy until a trained generalist is at hand: smooth
per-joint sinusoidal target motion around the grasp, which moves every joint the way a rotation
gait does (0.3-1 Hz, 0.05-0.15 rad) without needing a trained network.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from dexndm.dynamics.models import DynamicsConfig, DynamicsModel, build_dynamics
from dexndm.dynamics.sim_episodes import SimEpisodeConfig, replay_joint_targets, simulate_policy_episodes
from dexndm.dynamics.train import FitConfig, fit_dynamics
from dexndm.dynamics.windows import split_windows
from dexndm.hand import constants as C
from dexndm.residual.model import ResidualConfig, ResidualPolicyNet
from dexndm.residual.train import ResidualFitConfig, ResidualFitResult, fit_residual, split_residual_episodes
from dexndm.sim.config import EnvConfig, RandomizationConfig


class SmoothWavePolicy:
    """Relative actions that move each joint's target along ``A sin(2 pi f t + phi)`` about the grasp.

    Per env and joint, drawn at every reset: amplitude ``A`` in ``amplitude_rad``, frequency ``f``
    in ``frequency_hz``, phase uniform. The target change per step stays below 1/24 rad for the
    default ranges, so actions are never clipped.
    """

    uses_privileged = False

    def __init__(
        self,
        seed: int = 0,
        amplitude_rad: tuple[float, float] = (0.05, 0.15),
        frequency_hz: tuple[float, float] = (0.3, 1.0),
    ) -> None:
        self.seed = seed
        self.amplitude_rad = amplitude_rad
        self.frequency_hz = frequency_hz
        self.rng = np.random.default_rng(seed)
        self._params: np.ndarray | None = None  # (N, 3, 16): amplitude, angular frequency, phase
        self._step = np.zeros(0, dtype=int)

    def reset(self, env_ids: np.ndarray) -> None:
        env_ids = np.asarray(env_ids, dtype=int)
        if self._params is None or (len(env_ids) and env_ids.max() >= len(self._params)):
            self._params = np.zeros((int(env_ids.max()) + 1 if len(env_ids) else 0, 3, C.NUM_JOINTS))
            self._step = np.zeros(len(self._params), dtype=int)
        m = (len(env_ids), C.NUM_JOINTS)
        self._params[env_ids, 0] = self.rng.uniform(*self.amplitude_rad, m)
        self._params[env_ids, 1] = 2 * np.pi * self.rng.uniform(*self.frequency_hz, m)
        self._params[env_ids, 2] = self.rng.uniform(0, 2 * np.pi, m)
        self._step[env_ids] = 0

    def _offset(self, step: np.ndarray) -> np.ndarray:
        amp, omega, phase = self._params[:, 0], self._params[:, 1], self._params[:, 2]
        t = step[:, None] * C.CONTROL_DT
        return amp * (np.sin(omega * t + phase) - np.sin(phase))

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        n = len(obs["proprio"])
        if self._params is None or len(self._params) != n:
            self.reset(np.arange(n))
        change = self._offset(self._step + 1) - self._offset(self._step)
        self._step += 1
        return np.clip(change / C.ACTION_SCALE, -1.0, 1.0)

    def __repr__(self) -> str:
        return f"SmoothWavePolicy(seed={self.seed})"


@dataclass(frozen=True)
class GapExperimentConfig:
    """Sizes and settings of :func:`run_gap_experiment` (defaults: a few minutes on 2 cores)."""

    env: EnvConfig
    """The nominal sim (its randomization is the sim's; use RandomizationConfig.none() for a clean gap)."""
    reality: RandomizationConfig
    """The gapped sim's physics, e.g. ``replace(RandomizationConfig.none(), kp_scale=(0.6, 0.6))``."""
    train_episodes: int = 64
    eval_episodes: int = 16
    steps: int = 100
    num_envs: int = 16
    replay_noise_rad: float = 0.01
    """Std of Gaussian noise added to the replayed targets of a random half of the "collected"
    episodes, rad. It varies the targets independently of the history, which is what lets the
    model learn how the next position depends on the target (the paper: sigma 0.01, p 0.5)."""
    dynamics: DynamicsConfig = field(default_factory=lambda: DynamicsConfig(hidden=(64, 64)))
    pretrain: FitConfig = field(default_factory=lambda: FitConfig(steps=1500, batch_size=512, eval_every=500))
    finetune: FitConfig = field(
        default_factory=lambda: FitConfig(steps=1500, batch_size=512, lr=3e-4, eval_every=500)
    )
    residual: ResidualConfig = field(default_factory=lambda: ResidualConfig(hidden=(128, 128)))
    residual_fit: ResidualFitConfig = field(
        default_factory=lambda: ResidualFitConfig(steps=1500, eval_every=500)
    )
    sim_model_reference: bool = True
    """Score the residual against the sim-trained model's rollout rather than ``q^sim``
    (:mod:`dexndm.residual.rollout`)."""
    seed: int = 0


@dataclass
class GapExperimentResult:
    """Joint-tracking errors (rad, mean abs over joints and the steps before a fall) on held-out episodes."""

    base_error: float
    """Base targets replayed in the gapped sim vs the nominal sim's trajectory."""
    residual_error: float
    """Base + residual in the gapped sim vs the nominal sim's trajectory."""
    floor_error: float
    """Base targets replayed in the nominal sim itself (the chaos of contacts: the best possible)."""
    dynamics_real_one_step: float
    """One-step error of the fine-tuned model on held-out replays, rad."""
    residual_fit: ResidualFitResult
    clipped_fraction: float
    """Share of joint-steps whose corrected target change was spread over two steps by the env."""
    mean_abs_correction: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def improvement(self) -> float:
        """Share of the base's tracking error the residual removes."""
        return 1.0 - self.residual_error / self.base_error


def _held_steps(*fell: np.ndarray, steps: int) -> np.ndarray:
    first = np.full(len(fell[0]), steps)
    for f in fell:
        first = np.minimum(first, np.where(f >= 0, f, steps))
    return first


@dataclass
class GapSetup:
    """Steps 1-3 of the module docstring, shared by every residual trained against one gap."""

    cfg: GapExperimentConfig
    env: EnvConfig
    gapped: EnvConfig
    sim: dict[str, np.ndarray]
    """The base policy's train episodes in the nominal sim."""
    held_out: dict[str, np.ndarray]
    held_out_fell: np.ndarray
    dynamics: DynamicsModel
    """Pre-trained on ``sim``, fine-tuned on the replays in the gapped sim."""
    sim_model: DynamicsModel
    """The same model after pre-training only."""
    real_one_step: float
    real_hold_one_step: float


def prepare_gap(cfg: GapExperimentConfig, base: Any | None = None) -> GapSetup:
    """Simulate the base's episodes, replay them in the gapped sim, fit the dynamics model.

    ``base`` defaults to :class:`SmoothWavePolicy`.
    """
    from dexndm.dynamics.metrics import open_loop_error

    torch.manual_seed(cfg.seed)
    env = dataclasses.replace(cfg.env, num_envs=cfg.num_envs)
    gapped = dataclasses.replace(env, randomization=cfg.reality)
    base = SmoothWavePolicy(cfg.seed) if base is None else base
    sim_cfg = SimEpisodeConfig(
        episodes=cfg.train_episodes, steps=cfg.steps, num_envs=cfg.num_envs, seed=cfg.seed
    )
    sim, _ = simulate_policy_episodes(base, env, sim_cfg)
    eval_cfg = dataclasses.replace(sim_cfg, episodes=cfg.eval_episodes, seed=cfg.seed + 1)
    held_out, held_metas = simulate_policy_episodes(base, env, eval_cfg)

    # "real" data: the train episodes' targets replayed open loop in the gapped sim
    targets = sim["joint_targets"].astype(np.float64)
    if cfg.replay_noise_rad > 0:
        rng = np.random.default_rng((cfg.seed, 7))
        noisy = rng.random(len(targets)) < 0.5
        targets = C.clamp_to_limits(
            targets + noisy[:, None, None] * rng.normal(0.0, cfg.replay_noise_rad, targets.shape)
        )
    real, _ = replay_joint_targets(gapped, targets, seed=cfg.seed)

    dynamics = build_dynamics(cfg.dynamics)
    window = cfg.dynamics.window
    fit_dynamics(
        dynamics, *split_windows(sim["joint_pos"], sim["joint_targets"], window, seed=cfg.seed), cfg.pretrain
    )
    sim_model = copy.deepcopy(dynamics).requires_grad_(False).eval()
    real_split = split_windows(real["joint_pos"], real["joint_targets"], window, seed=cfg.seed)
    fit_dynamics(dynamics, *real_split, cfg.finetune)
    real_error = open_loop_error(dynamics, real_split[1], 1)
    return GapSetup(
        cfg, env, gapped, sim, held_out, np.array([m["fell_step"] for m in held_metas]), dynamics, sim_model,
        real_error.one_step, real_error.hold_one_step,
    )  # fmt: skip


def residual_on_gap(
    setup: GapSetup,
    residual_cfg: ResidualConfig | None = None,
    fit_cfg: ResidualFitConfig | None = None,
    sim_model_reference: bool | None = None,
) -> GapExperimentResult:
    """Steps 4-5: train a residual against ``setup``'s model, then track the held-out episodes in
    the gapped sim without and with it. Unset arguments come from ``setup.cfg``."""
    from dexndm.dynamics.sim_episodes import tracking_error

    cfg = setup.cfg
    torch.manual_seed(cfg.seed)
    use_reference = cfg.sim_model_reference if sim_model_reference is None else sim_model_reference
    residual = ResidualPolicyNet(dataclasses.replace(residual_cfg or cfg.residual, history=setup.env.history))
    train, evaluation = split_residual_episodes(setup.sim, setup.dynamics.window, seed=cfg.seed)
    fit = fit_residual(
        residual, setup.dynamics, train, evaluation, fit_cfg or cfg.residual_fit,
        reference=setup.sim_model if use_reference else None,
    )  # fmt: skip

    @torch.no_grad()
    def correction(proprio: np.ndarray, base_targets: np.ndarray) -> np.ndarray:
        return residual(torch.as_tensor(proprio), torch.as_tensor(base_targets)).numpy().astype(np.float64)

    base_targets = setup.held_out["joint_targets"]
    seed = cfg.seed + 1
    floor, floor_info = replay_joint_targets(setup.env, base_targets, seed=seed)
    plain, plain_info = replay_joint_targets(setup.gapped, base_targets, seed=seed)
    corrected, corrected_info = replay_joint_targets(
        setup.gapped, base_targets, seed=seed, correction=correction
    )
    sim_fell = setup.held_out_fell
    held = _held_steps(sim_fell, plain_info["fell_step"], corrected_info["fell_step"], steps=cfg.steps)
    reference = setup.held_out["joint_pos"]
    floor_held = _held_steps(sim_fell, floor_info["fell_step"], steps=cfg.steps)
    return GapExperimentResult(
        base_error=tracking_error(plain["joint_pos"], reference, held),
        residual_error=tracking_error(corrected["joint_pos"], reference, held),
        floor_error=tracking_error(floor["joint_pos"], reference, floor_held),
        dynamics_real_one_step=setup.real_one_step,
        residual_fit=fit,
        clipped_fraction=corrected_info["clipped_fraction"],
        mean_abs_correction=float(
            np.abs(corrected["joint_targets"].astype(np.float64) - base_targets).mean()
        ),
        info={"held_steps_mean": float(held.mean()), "real_hold_one_step": setup.real_hold_one_step},
    )


def run_gap_experiment(cfg: GapExperimentConfig, base: Any | None = None) -> GapExperimentResult:
    """The five steps of the module docstring: :func:`prepare_gap`, then :func:`residual_on_gap`."""
    return residual_on_gap(prepare_gap(cfg, base))
