"""The joint-wise drive model learns a known per-joint motor law, and its files check their format."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dexndm.dynamics import CheckpointMismatchError, JointWiseDynamics, save_dynamics
from dexndm.dynamics.drive import (
    DriveConfig,
    DriveFitConfig,
    JointDriveModel,
    drive_error_ma,
    fit_drive,
    load_drive,
    save_drive,
    split_drive_windows,
    train_drive_model,
)
from dexndm.dynamics.synthetic import random_hand_params, simulate_hand, smooth_targets
from dexndm.hand.constants import CONTROL_DT


def motor_current(q: np.ndarray, a: np.ndarray, kp: np.ndarray, kd: np.ndarray, cap: float) -> np.ndarray:
    """A position-controlled motor's current, mA: ``clip(kp (a_t - q_{t+1}) - kd qdot_{t+1}, +-cap)``,
    recorded with the state of step t + 1 (the first step has none before it: 0)."""
    current = np.zeros_like(q)
    qdot = np.diff(q, axis=1) / CONTROL_DT
    current[:, 1:] = np.clip(kp * (a[:, :-1] - q[:, 1:]) - kd * qdot, -cap, cap)
    return current.astype(np.float32)


def _episodes(seed: int, kp: np.ndarray, kd: np.ndarray, cap: float) -> dict[str, np.ndarray]:
    targets = smooth_targets(seed, 32, 80, amplitude_rad=0.15, noise_std_rad=0.01)
    q = simulate_hand(random_hand_params(0), targets)
    return {
        "joint_pos": q.astype(np.float32),
        "joint_targets": targets.astype(np.float32),
        "motor_current": motor_current(q, targets, kp, kd, cap),
    }


def test_drive_model_learns_each_joints_motor_law():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    kp, kd = rng.uniform(500, 3000, 16), rng.uniform(5, 40, 16)  # mA/rad, mA s/rad: every joint its own
    train, evaluation = split_drive_windows(_episodes(1, kp, kd, cap=400.0), window=10)
    model = JointDriveModel(DriveConfig(hidden=(32, 32)))
    fit = fit_drive(model, train, evaluation, DriveFitConfig(steps=800, eval_every=400, progress=False))
    _, _, current = evaluation.gather(torch.arange(len(evaluation)))
    mean_predictor = float((current - current.mean(0)).abs().mean())
    # measured: 15.9 mA against 164 mA for the per-joint mean (currents up to the 400 mA cap)
    assert fit["best"]["mae_ma"] < 0.15 * mean_predictor, (fit["best"], mean_predictor)
    assert drive_error_ma(model, evaluation) == pytest.approx(fit["best"]["mae_ma"])


def test_fine_tuning_moves_the_model_from_the_sims_motor_to_the_real_one(tmp_path):
    torch.manual_seed(0)
    kd = np.full(16, 10.0)
    sim = _episodes(1, np.full(16, 3000.0), kd, cap=900.0)  # a stiff sim
    real = _episodes(2, np.full(16, 1000.0), kd, cap=400.0)  # a soft, current-limited hand
    steps = DriveFitConfig(steps=400, eval_every=200, progress=False)
    model, summary = train_drive_model(sim, real, tmp_path, DriveConfig(hidden=(32, 32)), steps, steps)
    # the sim-trained model errs by the motor gap on the real hand; fine-tuning removes most of it
    # (measured: 243 -> 12 mA)
    assert summary["real_eval_mae_ma"] < 0.3 * summary["real_eval_mae_ma_sim_only"], summary
    assert (tmp_path / "pretrain.pt").exists() and (tmp_path / "drive.pt.json").exists()
    again, summary_again = train_drive_model(sim, real, tmp_path, DriveConfig(hidden=(32, 32)), steps, steps)
    assert summary_again == pytest.approx(summary)  # a rerun loads the stages instead of refitting


def test_drive_files_are_checked(tmp_path):
    path = save_drive(tmp_path / "drive.pt", JointDriveModel(DriveConfig(hidden=(8,))))
    assert load_drive(path).config == DriveConfig(hidden=(8,))
    save_dynamics(tmp_path / "dynamics.pt", JointWiseDynamics(hidden=(8,)))
    with pytest.raises(CheckpointMismatchError, match="not a dexndm drive model"):
        load_drive(tmp_path / "dynamics.pt")
