"""Training behaviour on a synthetic hand whose per-joint dynamics are known."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from dexndm.dynamics import (
    EpisodeWindows,
    FitConfig,
    JointWiseDynamics,
    WholeHandDynamics,
    fit_dynamics,
    open_loop_error,
    split_windows,
)
from dexndm.dynamics.synthetic import random_hand_params, simulate_hand, smooth_targets

WINDOW = 10
FAST = FitConfig(steps=800, batch_size=256, lr=3e-3, eval_every=200, progress=False)


def test_joint_wise_model_learns_the_per_joint_dynamics(hand_split):
    """One-step error < 5% of the hold baseline (measured 1.6%, 0.9 mrad vs 58 mrad) and
    10-step open-loop error < 10% of hold (measured 2.5%, 8.8 mrad vs 356 mrad)."""
    train, evaluation = hand_split
    torch.manual_seed(0)
    model = JointWiseDynamics(window=WINDOW, hidden=(32, 32))
    result = fit_dynamics(model, train, evaluation, FAST)
    one = open_loop_error(model, evaluation, horizon=1)
    ten = open_loop_error(model, evaluation, horizon=10)
    assert one.one_step < 0.05 * one.hold_one_step, one.to_markdown()
    assert one.one_step < 3e-3
    assert ten.final < 0.10 * ten.hold_final, ten.to_markdown()
    # Every joint is learnt, not just the average one.
    assert np.all(one.one_step_per_joint < 0.15 * one.hold_by_step_joint[0])
    # The model handed back is the best-eval one, and the training loss went down.
    assert result.best_eval_mae == pytest.approx(one.one_step, rel=1e-5)
    assert result.history[-1]["train_loss"] < 0.1 * result.history[1]["train_loss"]


def test_multi_step_loss_trains_and_evaluates_at_its_horizon(hand_split):
    train, evaluation = hand_split
    torch.manual_seed(0)
    model = JointWiseDynamics(window=WINDOW, hidden=(16,))
    cfg = dataclasses.replace(FAST, steps=150, eval_every=50, rollout_horizon=4)
    result = fit_dynamics(model, train, evaluation, cfg)
    assert result.best_eval_mae == pytest.approx(open_loop_error(model, evaluation, 4).final, rel=1e-5)
    assert result.best_eval_mae < 0.5 * result.history[0]["eval_mae"]


def test_hold_model_scores_exactly_the_hold_baseline(hand_split):
    # A model whose network outputs 0 and whose mean change is 0 predicts q_{t+k} = q_t.
    _, evaluation = hand_split
    model = JointWiseDynamics(window=WINDOW, hidden=(8,))
    with torch.no_grad():
        model.net.layers[-1].weight.zero_()
        model.net.layers[-1].bias.zero_()
    err = open_loop_error(model, evaluation, horizon=5)
    np.testing.assert_allclose(err.mae_by_step_joint, err.hold_by_step_joint, rtol=1e-6)
    assert err.num_windows == len(evaluation.with_horizon(5))


def test_pretrain_then_finetune(hand_episodes, tmp_path):
    """Two calls: pre-train on "sim", fine-tune on a little "real" data from a different hand."""
    sim_train, sim_eval = split_windows(*hand_episodes, window=WINDOW, seed=0)
    real_params = random_hand_params(seed=0)
    real_params = dataclasses.replace(real_params, stiffness=0.6 * real_params.stiffness)  # a weaker hand
    real_targets = smooth_targets(seed=7, num_episodes=10, num_steps=150)
    real_train, real_eval = split_windows(
        simulate_hand(real_params, real_targets), real_targets, WINDOW, seed=0
    )

    torch.manual_seed(0)
    model = JointWiseDynamics(window=WINDOW, hidden=(32, 32))
    fit_dynamics(model, sim_train, sim_eval, dataclasses.replace(FAST, log_dir=str(tmp_path / "pre")))
    sim_stats = model.delta_std.clone()
    before = open_loop_error(model, real_eval, 1).one_step

    cfg = dataclasses.replace(FAST, steps=300, lr=1e-3, log_dir=str(tmp_path / "ft"))
    result = fit_dynamics(model, real_train, real_eval, cfg, extra={"pretrained_from": str(tmp_path / "pre")})
    # Starts from the pre-trained weights (step-0 eval), keeps their normalisation, improves.
    assert result.history[0]["step"] == 0
    assert result.history[0]["eval_mae"] == pytest.approx(before, rel=1e-5)
    assert torch.equal(model.delta_std, sim_stats)
    assert result.best_eval_mae < 0.5 * before
    assert (tmp_path / "ft" / "best.pt").exists()


@pytest.mark.parametrize("seed", [0, 1])
def test_joint_wise_generalises_to_shifted_inputs_better_than_whole_hand(seed):
    """The paper's claim, in miniature. Train on little data (9 episodes x 10 s) in which the 16
    targets are mixtures of 3 latent signals (like a policy's coordinated finger motion), joints
    weakly coupled; test on targets that move every joint independently. Each joint's own
    history stays in distribution, the 16-joint history does not. Measured with these settings on
    seeds 0-7: joint-wise 1.5-2.0 mrad one-step error on the shifted data, whole-hand 46-55 mrad
    (hold baseline 51-62 mrad), a ratio of 0.03-0.04 against the asserted 0.5."""
    params = random_hand_params(seed, coupling=0.05)
    targets = smooth_targets(100 + seed, 10, 200, synergies=3, mixing_seed=seed)
    train, evaluation = split_windows(simulate_hand(params, targets), targets, WINDOW, seed=seed)
    shifted_targets = smooth_targets(200 + seed, 10, 200)
    shifted = EpisodeWindows.from_arrays(simulate_hand(params, shifted_targets), shifted_targets, WINDOW)

    errors = {}
    for cls in (JointWiseDynamics, WholeHandDynamics):
        torch.manual_seed(seed)
        model = cls(window=WINDOW, hidden=(32, 32))
        fit_dynamics(model, train, evaluation, dataclasses.replace(FAST, steps=600, eval_every=100))
        errors[cls.__name__] = open_loop_error(model, shifted, horizon=1).one_step
    assert errors["JointWiseDynamics"] < 0.5 * errors["WholeHandDynamics"], errors


def test_fit_refuses_an_empty_eval_set(hand_episodes):
    train, _ = split_windows(*hand_episodes, window=WINDOW, seed=0)
    empty = dataclasses.replace(train, episodes=torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="eval_data has no episodes"):
        fit_dynamics(JointWiseDynamics(window=WINDOW, hidden=(8,)), train, empty, FAST)


def test_anchored_finetune_keeps_the_sim_dynamics_where_the_real_data_is_silent(hand_episodes):
    """Pre-train on a "sim" hand whose 16 joints all move; fine-tune on a weaker "real" hand whose
    joints 8-15 were held still during collection (their windows say nothing about motion). The
    joint-wise model's joints 8-15 then only see rest; unanchored, their motion predictions drift
    from what the sim taught, anchored (L2-SP) they stay near it, while joints 0-7 still learn
    the weaker hand."""
    sim_train, sim_eval = split_windows(*hand_episodes, window=WINDOW, seed=0)
    real_params = random_hand_params(seed=0)
    real_params = dataclasses.replace(real_params, stiffness=0.6 * real_params.stiffness)
    real_targets = smooth_targets(seed=7, num_episodes=10, num_steps=150)
    real_targets[:, :, 8:] = real_targets[:, :1, 8:]  # held at their first target
    real_pos = simulate_hand(real_params, real_targets)
    real_train, real_eval = split_windows(real_pos, real_targets, WINDOW, seed=0)

    torch.manual_seed(0)
    pretrained = JointWiseDynamics(window=WINDOW, hidden=(32, 32))
    fit_dynamics(pretrained, sim_train, sim_eval, FAST)
    start = {k: v.clone() for k, v in pretrained.state_dict().items()}

    def finetuned(anchor_weight: float) -> JointWiseDynamics:
        model = JointWiseDynamics(window=WINDOW, hidden=(32, 32))
        model.load_state_dict(start)
        cfg = dataclasses.replace(FAST, steps=600, lr=1e-3, anchor_weight=anchor_weight)
        fit_dynamics(model, real_train, real_eval, cfg)
        return model

    def moving_error(model: JointWiseDynamics) -> np.ndarray:  # sim episodes, 10 steps ahead, rad
        return open_loop_error(model, sim_eval, horizon=10).final_per_joint

    free, anchored = finetuned(0.0), finetuned(1e-2)
    before = moving_error(pretrained)[8:].mean()
    drift_free = moving_error(free)[8:].mean() - before
    drift_anchored = moving_error(anchored)[8:].mean() - before
    # measured: pretrained 0.0123 rad, free 0.2190, anchored 0.0834
    assert drift_anchored < 0.5 * drift_free
    # the joints the real data does cover are still fitted to the weaker hand
    real_before = open_loop_error(pretrained, real_eval, 1).one_step_per_joint[:8].mean()
    assert open_loop_error(anchored, real_eval, 1).one_step_per_joint[:8].mean() < 0.5 * real_before
