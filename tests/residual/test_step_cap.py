"""The cap on the sent target's step per tick: what the residual trains under is what it gets deployed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dexndm.dynamics import JointWiseDynamics
from dexndm.dynamics.synthetic import random_hand_params, simulate_hand, smooth_targets
from dexndm.eval.policies import action_limit
from dexndm.hand import constants as C
from dexndm.residual.deploy import TargetChainPolicy, trained_max_step
from dexndm.residual.model import ResidualConfig, ResidualPolicyNet
from dexndm.residual.rollout import ResidualRollout, proprio_sequence, split_residual_episodes
from dexndm.sim.observations import ProprioHistory

WINDOW = 4


def _obs() -> np.ndarray:
    hist = ProprioHistory(10)
    hist.start(np.zeros(16), np.zeros(16))
    return hist.obs(np.array([1.0, 0, 0, 0]), np.array([0, 0, 1.0]))


def _jump(correction: float):
    """A base that steps 0.01 rad per tick, and a correction that appears at once."""

    def step(obs, prev):
        base = prev + 0.01
        return base + correction, base

    return step


def test_a_correction_up_to_the_safety_cap_is_sent_in_one_tick():
    policy = TargetChainPolicy(_jump(0.08), "test")
    assert action_limit(policy) == pytest.approx(C.MAX_TARGET_STEP_RAD / C.ACTION_SCALE)
    policy.reset(np.arange(1))
    first = policy.act({"proprio": _obs()})
    np.testing.assert_allclose(first, np.full((1, 16), 0.09 * 24), atol=1e-6)  # base 0.01 + 0.08 at once
    assert policy.clipped_fraction == 0.0


def test_with_the_bases_own_step_as_cap_the_correction_comes_in_parts():
    """What residuals got before session 28: capped at 1/24 rad, 0.09 rad takes three ticks."""
    policy = TargetChainPolicy(_jump(0.08), "test", max_step_rad=C.ACTION_SCALE)
    assert action_limit(policy) == pytest.approx(1.0)
    policy.reset(np.arange(1))
    held, sent = 0.0, []
    for _ in range(3):
        held += float(policy.act({"proprio": _obs()})[0, 0]) * C.ACTION_SCALE
        sent.append(held)
    # wanted: 0.09, 0.10, 0.11 (base 0.01 per tick + 0.08); got: 1/24, 2/24, then 0.11
    np.testing.assert_allclose(sent, [1 / 24, 2 / 24, 0.11], atol=1e-6)
    assert policy.clipped_fraction == pytest.approx(2 / 3)


@pytest.mark.parametrize("cap", [0.01, 0.2])
def test_a_cap_outside_base_step_to_safety_cap_is_refused(cap):
    with pytest.raises(ValueError, match="max_step_rad must lie in"):
        TargetChainPolicy(_jump(0.0), "test", max_step_rad=cap)


def test_residuals_made_before_the_cap_was_recorded_keep_the_bases_step():
    assert trained_max_step({}) == C.ACTION_SCALE
    assert trained_max_step({"max_target_step_rad": 0.1}) == 0.1


@pytest.fixture(scope="module")
def setup():
    targets = smooth_targets(seed=0, num_episodes=4, num_steps=40, amplitude_rad=0.1)
    q = simulate_hand(random_hand_params(1), targets)
    n = len(q)
    arrays = {
        "joint_pos": q.astype(np.float32),
        "joint_targets": targets.astype(np.float32),
        "proprio_obs": proprio_sequence(
            q, targets, np.tile([1.0, 0, 0, 0], (n, 1)), np.tile([0.0, 0, 1], (n, 1)), history=10, lag=2
        ),
    }
    train, _ = split_residual_episodes(arrays, WINDOW)
    torch.manual_seed(0)
    model = JointWiseDynamics(window=WINDOW, hidden=(16,))
    b = train.with_horizon(1).windows.gather(torch.arange(len(train.with_horizon(1))))
    model.fit_normalization(b.q_hist[:, -WINDOW:], b.a_hist[:, -WINDOW:], b.q_future[:, 0])
    net = ResidualPolicyNet(ResidualConfig(hidden=(16,), max_correction=0.2))
    torch.nn.init.normal_(net.head.weight, std=2.0)  # large corrections that change fast
    return train, model.requires_grad_(False).eval(), net


def test_the_rollout_sends_the_capped_chain_the_hand_would_get(setup):
    train, model, net = setup
    data = train.with_horizon(3)
    batch, obs = data.gather(torch.arange(0, len(data), 5))
    # teacher forced: the corrections do not depend on the sent chain, so it can be rebuilt here
    pred, corr = ResidualRollout(net, model, data.obs_lag, "teacher_forced", max_step=0.02)(batch, obs)
    wanted = batch.a_seq + corr
    lower, upper = (torch.as_tensor(x, dtype=torch.float32) for x in (C.JOINT_LOWER, C.JOINT_UPPER))
    chain = [wanted[:, 0].clamp(lower, upper)]
    for i in range(1, wanted.shape[1]):
        step = torch.minimum(torch.maximum(wanted[:, i], chain[-1] - 0.02), chain[-1] + 0.02)
        chain.append(step.clamp(lower, upper))
    sent = torch.stack(chain, 1)
    assert (sent - batch.a_seq - corr).abs().max() > 1e-3  # the cap did cut corrections here
    assert sent.diff(dim=1).abs().max() <= 0.02 + 1e-6
    torch.testing.assert_close(pred, model.rollout(batch.q_hist[:, -WINDOW:], sent[:, -(WINDOW + 2) :]))
    uncapped, _ = ResidualRollout(net, model, data.obs_lag, "teacher_forced", max_step=None)(batch, obs)
    assert (uncapped - pred).abs().max() > 1e-4


def test_a_cap_that_never_binds_changes_nothing(setup):
    train, model, net = setup
    data = train.with_horizon(3)
    batch, obs = data.gather(torch.arange(0, len(data), 5))
    capped, _ = ResidualRollout(net, model, data.obs_lag, "closed_loop", max_step=10.0)(batch, obs)
    uncapped, _ = ResidualRollout(net, model, data.obs_lag, "closed_loop", max_step=None)(batch, obs)
    torch.testing.assert_close(capped, uncapped)
