"""The residual's training graph: the paper's formula, the closed-loop observation rebuild, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dexndm.dynamics import JointWiseDynamics
from dexndm.dynamics.synthetic import random_hand_params, simulate_hand, smooth_targets
from dexndm.residual.model import ResidualConfig, ResidualPolicyNet
from dexndm.residual.rollout import (
    ResidualRollout,
    observation_target_lag,
    proprio_from_history,
    proprio_sequence,
    split_residual_episodes,
)
from dexndm.sim.observations import proprio_obs

WINDOW = 4


def _episodes(lag: int = 2, num_episodes: int = 6, steps: int = 40) -> dict[str, np.ndarray]:
    targets = smooth_targets(seed=0, num_episodes=num_episodes, num_steps=steps, amplitude_rad=0.1)
    q = simulate_hand(random_hand_params(1), targets)
    wrist, axis = np.tile([1.0, 0, 0, 0], (num_episodes, 1)), np.tile([0.0, 0, 1], (num_episodes, 1))
    return {
        "joint_pos": q.astype(np.float32),
        "joint_targets": targets.astype(np.float32),
        "proprio_obs": proprio_sequence(q, targets, wrist, axis, history=10, lag=lag),
    }


@pytest.fixture(scope="module")
def data():
    return _episodes()


@pytest.fixture(scope="module")
def model(data):
    torch.manual_seed(0)
    m = JointWiseDynamics(window=WINDOW, hidden=(16,))
    batch = split_residual_episodes(data, WINDOW)[0].with_horizon(1)
    b = batch.windows.gather(torch.arange(len(batch)))
    m.fit_normalization(b.q_hist[:, -WINDOW:], b.a_hist[:, -WINDOW:], b.q_future[:, 0])
    return m.requires_grad_(False).eval()


def _active_residual(seed: int = 0) -> ResidualPolicyNet:
    torch.manual_seed(seed)
    net = ResidualPolicyNet(ResidualConfig(hidden=(16,)))
    torch.nn.init.normal_(net.head.weight, std=0.5)
    return net


def test_observation_lag_is_read_from_the_data():
    for lag in (1, 2):
        arrays = _episodes(lag=lag, num_episodes=2, steps=20)
        assert observation_target_lag(arrays["proprio_obs"], arrays["joint_targets"], 10) == lag
    arrays = _episodes(num_episodes=2, steps=20)
    with pytest.raises(ValueError, match="matches none of the recorded targets"):
        observation_target_lag(arrays["proprio_obs"], arrays["joint_targets"][::-1].copy(), 10)


def test_torch_observation_matches_the_env_builder():
    rng = np.random.default_rng(0)
    q, a = rng.normal(size=(3, 10, 16)), rng.normal(size=(3, 10, 16))
    wrist, axis = rng.normal(size=(3, 4)), rng.normal(size=(3, 3))
    expected = proprio_obs(q, a, wrist, axis)
    got = proprio_from_history(
        *(torch.as_tensor(x, dtype=torch.float32) for x in (q, a)),
        torch.as_tensor(np.c_[wrist, axis]).float(),
    )
    np.testing.assert_array_equal(got.numpy(), expected)


def test_teacher_forced_one_step_is_the_papers_formula(data, model):
    train, _ = split_residual_episodes(data, WINDOW)
    net = _active_residual()
    batch, obs = train.with_horizon(1).gather(torch.arange(0, len(train), 7))
    # the formula has no cap on the sent target's step (test_step_cap.py covers the cap)
    pred, corr = ResidualRollout(net, model, train.obs_lag, "teacher_forced", max_step=None)(batch, obs)
    # f({q_j, a_j + pi(o_j, a_j)}_{j = t-W+1..t}) with sim positions and every target corrected
    a_hist, o_hist = batch.a_seq[:, -WINDOW:], obs[:, -WINDOW:]
    b = len(a_hist)
    fixed = a_hist + net(o_hist.reshape(b * WINDOW, -1), a_hist.reshape(b * WINDOW, -1)).view(b, WINDOW, -1)
    torch.testing.assert_close(pred[:, 0], model(batch.q_hist[:, -WINDOW:], fixed))
    assert corr.abs().max() > 1e-3


@pytest.mark.parametrize("mode", ["teacher_forced", "closed_loop"])
def test_zero_residual_is_the_models_own_rollout(data, model, mode):
    train, _ = split_residual_episodes(data, WINDOW)
    batch, obs = train.with_horizon(5).gather(torch.arange(0, len(train.with_horizon(5)), 5))
    # uncapped: these synthetic targets carry noise that steps up to 0.107 rad, past the hand's cap
    # (a policy's never do: 1/24 rad), so the cap alone would change the model's own rollout
    net = ResidualPolicyNet(ResidualConfig(hidden=(8,)))
    pred, corr = ResidualRollout(net, model, 2, mode, max_step=None)(batch, obs)
    assert torch.equal(corr, torch.zeros_like(corr))
    torch.testing.assert_close(pred, model.rollout(batch.q_hist[:, -WINDOW:], batch.a_seq[:, -WINDOW - 4 :]))


def test_closed_loop_rebuilds_the_observation_the_residual_sees(data, model):
    """At the first step the rebuilt observation is the recorded one; later its positions are the
    model's predictions, its targets still the base ones (what the deployed policies see)."""
    train, _ = split_residual_episodes(data, WINDOW)
    seen: list[torch.Tensor] = []

    class Recording(ResidualPolicyNet):
        def forward(self, proprio, base_targets):
            seen.append(proprio.detach().clone())
            return super().forward(proprio, base_targets)

    net = Recording(ResidualConfig(hidden=(8,)))
    torch.nn.init.normal_(net.head.weight, std=0.5)
    batch, obs = train.with_horizon(3).gather(torch.arange(0, 40, 10))
    history = batch.q_hist.shape[1]
    pred, corr = ResidualRollout(net, model, train.obs_lag, "closed_loop")(batch, obs)
    first, second = seen[1], seen[2]  # seen[0]: the teacher-forced pass over the history
    # step 0: the recorded observation, base targets included
    recorded = obs[:, history - 1].view(len(first), -1)
    torch.testing.assert_close(first, recorded)
    assert corr[:, : history - 1].abs().max() > 1e-3  # the history's targets were corrected when sent
    newest_q = second[:, 9 * 32 : 9 * 32 + 16]
    torch.testing.assert_close(newest_q, pred[:, 0])
    newest_target = second[:, 9 * 32 + 16 : 9 * 32 + 32]  # a_{t0+1-L} = a_{t0-1}: the base one
    torch.testing.assert_close(newest_target, batch.a_seq[:, history - 2])


def test_gradients_reach_the_residual_only(data, model):
    train, _ = split_residual_episodes(data, WINDOW)
    net = _active_residual()
    batch, obs = train.with_horizon(3).gather(torch.arange(8))
    pred, _ = ResidualRollout(net, model, train.obs_lag, "closed_loop")(batch, obs)
    ((pred - batch.q_future) ** 2).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    assert all(p.grad is None for p in model.parameters())
