"""The drive term lets the residual restore a force gap that matching positions cannot see.

Both hands press on something that does not give: every joint stays where it is whatever its
target, so the sim's and the real positions agree exactly. The real motors are half as stiff,
so at the same positions they push with half the current. A residual trained on positions alone
has nothing to correct; with the drive model of the real hand in its objective it should double
each joint's drive (``a' - q = 2 (a - q)``), which makes the real current the sim's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dexndm.dynamics import JointWiseDynamics
from dexndm.dynamics.drive import DriveConfig, DriveFitConfig, JointDriveModel, fit_drive, split_drive_windows
from dexndm.dynamics.synthetic import smooth_targets
from dexndm.hand import constants as C
from dexndm.residual.model import ResidualConfig, ResidualPolicyNet
from dexndm.residual.rollout import proprio_sequence
from dexndm.residual.train import ResidualFitConfig, fit_residual, split_residual_episodes

KP_SIM_MA_PER_RAD = 3000.0
KP_REAL_MA_PER_RAD = 1500.0
LAG, HISTORY = 2, 10


def _blocked_episodes(seed: int, kp: float) -> dict[str, np.ndarray]:
    """Joints held where they start; targets wander around them; current ``kp (a_t - q)`` at t + 1."""
    rng = np.random.default_rng(seed)
    num_episodes, steps = 24, 80
    hold = C.DEFAULT_POSE + rng.uniform(-0.1, 0.1, (num_episodes, 1, C.NUM_JOINTS))
    targets = hold + smooth_targets(seed, num_episodes, steps, amplitude_rad=0.06, noise_std_rad=0.0)
    targets -= targets.mean(axis=1, keepdims=True) - hold  # centred on the held pose
    q = np.repeat(hold, steps, axis=1)
    current = np.zeros_like(q)
    current[:, 1:] = kp * (targets[:, :-1] - q[:, 1:])
    tails = np.tile([1.0, 0, 0, 0], (num_episodes, 1)), np.tile([0.0, 0, 1], (num_episodes, 1))
    return {
        "joint_pos": q.astype(np.float32),
        "joint_targets": targets.astype(np.float32),
        "motor_current": current.astype(np.float32),
        "proprio_obs": proprio_sequence(q, targets, *tails, HISTORY, LAG),
    }


def _blocked_model(data: dict[str, np.ndarray]) -> JointWiseDynamics:
    """A dynamics model that knows the joints do not move (its output layer is zero)."""
    model = JointWiseDynamics(hidden=(8,))
    q, a = torch.as_tensor(data["joint_pos"]), torch.as_tensor(data["joint_targets"])
    model.fit_normalization(q[:, :10], a[:, :10], q[:, 10])
    last = model.net.layers[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    return model.eval()


def _real_current_gap(residual: ResidualPolicyNet, sim: dict[str, np.ndarray]) -> tuple[float, float]:
    """Mean |real - sim| current, mA, with the base targets alone and with the residual's correction,
    computed with the true real motor law on the sim's episodes (the joints stay put in both)."""
    obs = torch.as_tensor(sim["proprio_obs"]).flatten(0, 1)
    base = torch.as_tensor(sim["joint_targets"]).flatten(0, 1)
    with torch.no_grad():
        corrected = (base + residual(obs, base)).view(sim["joint_targets"].shape).numpy()
    q, sim_current = sim["joint_pos"][:, 1:], sim["motor_current"][:, 1:]
    plain = KP_REAL_MA_PER_RAD * (sim["joint_targets"][:, :-1] - q)
    fixed = KP_REAL_MA_PER_RAD * (corrected[:, :-1] - q)
    return float(np.abs(plain - sim_current).mean()), float(np.abs(fixed - sim_current).mean())


def _train(drive_weight: float, sim, drive, dynamics) -> ResidualPolicyNet:
    torch.manual_seed(0)
    residual = ResidualPolicyNet(ResidualConfig(hidden=(64, 64), max_correction=0.15))
    train, evaluation = split_residual_episodes(sim, dynamics.window)
    cfg = ResidualFitConfig(
        steps=400, batch_size=64, lr=1e-3, horizon=2, eval_horizon=2, eval_every=200,
        drive_weight=drive_weight, progress=False,
    )  # fmt: skip
    fit_residual(residual, dynamics, train, evaluation, cfg, drive=drive)
    return residual


def test_the_drive_term_restores_the_sims_current_where_positions_agree():
    sim = _blocked_episodes(1, KP_SIM_MA_PER_RAD)
    real = _blocked_episodes(2, KP_REAL_MA_PER_RAD)  # "collected" on the real hand: other targets
    torch.manual_seed(0)
    drive = JointDriveModel(DriveConfig(hidden=(32, 32)))
    fit_drive(
        drive, *split_drive_windows(real, 10), DriveFitConfig(steps=600, eval_every=300, progress=False)
    )
    dynamics = _blocked_model(real)

    plain, with_drive = _real_current_gap(_train(1.0, sim, drive, dynamics), sim)
    _, positions_only = _real_current_gap(_train(0.0, sim, drive, dynamics), sim)
    # measured: 73 mA of gap -> 12 mA with the drive term; positions alone leave it at 73
    assert with_drive < 0.35 * plain, (plain, with_drive)
    assert positions_only > 0.9 * plain, (plain, positions_only)


def _fitted_drive(episodes: dict[str, np.ndarray]) -> JointDriveModel:
    torch.manual_seed(0)
    drive = JointDriveModel(DriveConfig(hidden=(32, 32)))
    fit_drive(
        drive, *split_drive_windows(episodes, 10), DriveFitConfig(steps=600, eval_every=300, progress=False)
    )
    return drive


def test_on_the_real_hands_own_states_the_sim_drive_model_stands_in_for_the_sims_current():
    """Trained on real-hand episodes (their recorded currents are the real hand's), the drive term
    is scored against the sim-trained drive model along the sim model's rollout, and restores the
    sim's current on those states."""
    sim = _blocked_episodes(1, KP_SIM_MA_PER_RAD)
    real = _blocked_episodes(2, KP_REAL_MA_PER_RAD)
    drive, sim_drive = _fitted_drive(real), _fitted_drive(sim)
    dynamics = _blocked_model(real)
    real_states = {k: v for k, v in real.items() if k != "motor_current"}  # not the sim's: never read
    train, evaluation = split_residual_episodes(real_states, dynamics.window)
    cfg = ResidualFitConfig(
        steps=400, batch_size=64, lr=1e-3, horizon=2, eval_horizon=2, eval_every=200, drive_weight=1.0,
        progress=False,
    )  # fmt: skip
    with pytest.raises(ValueError, match="currents to score it against"):
        fit_residual(ResidualPolicyNet(ResidualConfig()), dynamics, train, evaluation, cfg, drive=drive)
    torch.manual_seed(0)
    residual = ResidualPolicyNet(ResidualConfig(hidden=(64, 64), max_correction=0.15))
    result = fit_residual(
        residual, dynamics, train, evaluation, cfg, reference=dynamics, drive=drive, reference_drive=sim_drive
    )
    # the sim's current on the real states, by the sim's motor law, against the real hand's
    obs = torch.as_tensor(real["proprio_obs"]).flatten(0, 1)
    base = torch.as_tensor(real["joint_targets"]).flatten(0, 1)
    with torch.no_grad():
        corrected = (base + residual(obs, base)).view(real["joint_targets"].shape).numpy()
    q = real["joint_pos"][:, 1:]
    sim_current = KP_SIM_MA_PER_RAD * (real["joint_targets"][:, :-1] - q)
    plain = np.abs(KP_REAL_MA_PER_RAD * (real["joint_targets"][:, :-1] - q) - sim_current).mean()
    fixed = np.abs(KP_REAL_MA_PER_RAD * (corrected[:, :-1] - q) - sim_current).mean()
    assert fixed < 0.35 * plain, (plain, fixed)
    assert result.best.drive_corrected_mae < 0.5 * result.best.drive_uncorrected_mae, result.best
