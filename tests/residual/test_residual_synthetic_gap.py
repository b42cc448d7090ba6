"""A residual trained through the dynamics model closes a known stiffness gap on the synthetic hand.

The synthetic hand (:mod:`dexndm.dynamics.synthetic`) has per-joint dynamics a joint-wise model
learns to 0.5 mrad, so this isolates the residual machinery from model error: "sim" is one hand,
"reality" the same hand with every joint's stiffness x0.6.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from dexndm.dynamics import FitConfig, JointWiseDynamics, fit_dynamics, split_windows
from dexndm.dynamics.synthetic import random_hand_params, simulate_hand, smooth_targets
from dexndm.residual.model import ResidualConfig, ResidualPolicyNet
from dexndm.residual.rollout import largest_gaps, proprio_sequence
from dexndm.residual.train import ResidualFitConfig, fit_residual, split_residual_episodes

LAG, HISTORY = 2, 10


def _tails(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tile([1.0, 0, 0, 0], (n, 1)), np.tile([0.0, 0, 1], (n, 1))


def run_closed_loop(params, base: np.ndarray, residual: ResidualPolicyNet) -> np.ndarray:
    """Drive the hand with ``base + residual(o_t, a_t)``, the residual seeing the hand's own
    positions and the targets it was sent, step by step. Returns positions ``(E, T, J)``."""
    sent = base.copy()
    for t in range(base.shape[1]):
        # positions up to q_t depend on the targets before step t only
        q = simulate_hand(params, sent[:, : t + 1], q0=base[:, 0])
        obs = proprio_sequence(q, sent[:, : t + 1], *_tails(len(base)), HISTORY, LAG)[:, t]
        with torch.no_grad():
            corr = residual(torch.as_tensor(obs), torch.as_tensor(base[:, t], dtype=torch.float32)).numpy()
        sent[:, t] = base[:, t] + corr
    return simulate_hand(params, sent, q0=base[:, 0])


def test_residual_closes_a_stiffness_gap():
    torch.manual_seed(0)
    sim_hand = random_hand_params(0)
    real_hand = dataclasses.replace(sim_hand, stiffness=0.6 * sim_hand.stiffness)
    # the base policy's sim episodes, and "collected" real episodes (other targets, noise in half)
    base = smooth_targets(1, 24, 80, amplitude_rad=0.1, noise_std_rad=0.0)
    q_sim = simulate_hand(sim_hand, base)
    replayed = smooth_targets(2, 24, 80, amplitude_rad=0.1, noise_std_rad=0.01)
    q_real = simulate_hand(real_hand, replayed)

    model = JointWiseDynamics(hidden=(32, 32))
    fit = FitConfig(steps=400, batch_size=256, eval_every=400, progress=False)
    fit_dynamics(model, *split_windows(q_sim, base, 10), fit)
    sim_model = copy.deepcopy(model)
    fit_dynamics(model, *split_windows(q_real, replayed, 10), fit)

    episodes = {
        "joint_pos": q_sim.astype(np.float32),
        "joint_targets": base.astype(np.float32),
        "proprio_obs": proprio_sequence(q_sim, base, *_tails(len(base)), HISTORY, LAG),
    }
    residual = ResidualPolicyNet(ResidualConfig(hidden=(64, 64), max_correction=0.15))
    train, evaluation = split_residual_episodes(episodes, model.window)
    cfg = ResidualFitConfig(steps=500, batch_size=64, lr=1e-3, horizon=3, eval_horizon=3, progress=False)
    result = fit_residual(residual, model, train, evaluation, cfg, reference=sim_model)
    assert result.best.closed_fraction > 0.5  # in the model's world (measured 0.78)

    held_out = smooth_targets(3, 6, 60, amplitude_rad=0.1, noise_std_rad=0.0)
    reference = simulate_hand(sim_hand, held_out)
    plain = np.abs(simulate_hand(real_hand, held_out) - reference).mean()
    corrected = np.abs(run_closed_loop(real_hand, held_out, residual) - reference).mean()
    # measured: 37.2 -> 15.6 mrad (-58 %), 78 % of the modelled gap closed; the margin leaves room
    # for other seeds and torch versions
    assert corrected < 0.75 * plain, (plain, corrected)


def test_the_modelled_gap_is_reported_on_the_joint_that_has_it():
    """Real hand = sim hand with one joint (mf_pip, 6) at half stiffness: the evaluation puts the
    model's gap on that joint, and the per-joint gaps average to the overall one."""
    torch.manual_seed(0)
    sim_hand = random_hand_params(0)
    stiffness = sim_hand.stiffness.copy()
    stiffness[6] *= 0.5
    real_hand = dataclasses.replace(sim_hand, stiffness=stiffness)
    base = smooth_targets(1, 16, 80, amplitude_rad=0.1, noise_std_rad=0.0)
    q_sim = simulate_hand(sim_hand, base)
    replayed = smooth_targets(2, 16, 80, amplitude_rad=0.1, noise_std_rad=0.01)

    model = JointWiseDynamics(hidden=(32, 32))
    fit = FitConfig(steps=300, batch_size=256, eval_every=300, progress=False)
    fit_dynamics(model, *split_windows(q_sim, base, 10), fit)
    sim_model = copy.deepcopy(model)
    fit_dynamics(model, *split_windows(simulate_hand(real_hand, replayed), replayed, 10), fit)

    episodes = {
        "joint_pos": q_sim.astype(np.float32),
        "joint_targets": base.astype(np.float32),
        "proprio_obs": proprio_sequence(q_sim, base, *_tails(len(base)), HISTORY, LAG),
    }
    train, evaluation = split_residual_episodes(episodes, model.window)
    cfg = ResidualFitConfig(steps=1, batch_size=16, horizon=3, eval_horizon=3, eval_every=1, progress=False)
    residual = ResidualPolicyNet(ResidualConfig(hidden=(16,), max_correction=0.15))
    best = fit_residual(residual, model, train, evaluation, cfg, reference=sim_model).best
    gaps = np.array(best.uncorrected_per_joint)
    assert gaps.shape == (16,) and int(gaps.argmax()) == 6
    assert gaps[6] > 3 * np.median(gaps), gaps
    assert gaps.mean() == pytest.approx(best.uncorrected_mae, rel=1e-5)
    assert largest_gaps(best).startswith(f"largest mf_pip {1e3 * gaps[6]:.0f}")
