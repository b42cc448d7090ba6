"""The residual network: zero at start, bounded, normalised inputs, clear errors."""

from __future__ import annotations

import pytest
import torch

from dexndm.hand import constants as C
from dexndm.residual.model import ResidualConfig, ResidualPolicyNet


def _inputs(batch: int = 8, history: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    proprio = torch.as_tensor(C.DEFAULT_POSE, dtype=torch.float32).repeat(2 * history)
    proprio = torch.cat([proprio, torch.tensor([1.0, 0, 0, 0, 0, 0, 1])]).repeat(batch, 1)
    proprio = proprio + 0.2 * torch.randn(proprio.shape, generator=gen)
    targets = proprio[:, (history - 1) * 32 : (history - 1) * 32 + 16] + 0.05 * torch.randn(
        batch, 16, generator=gen
    )
    return proprio, targets


def test_untrained_residual_changes_nothing():
    net = ResidualPolicyNet(ResidualConfig(hidden=(32, 32)))
    assert torch.equal(net(*_inputs()), torch.zeros(8, 16))


def test_corrections_are_bounded_and_depend_on_the_target_gap():
    net = ResidualPolicyNet(ResidualConfig(hidden=(32,), max_correction=0.03))
    torch.nn.init.normal_(net.head.weight, std=10.0)
    proprio, targets = _inputs(64)
    out = net(proprio, targets)
    assert out.abs().max() <= 0.03 + 1e-7 and out.abs().max() > 0.02  # saturates at the bound
    # the third feature block is a_t - q_t, with q_t the newest position in the observation
    q_now = proprio[:, 9 * 32 : 9 * 32 + 16]
    torch.testing.assert_close(net.features(proprio, targets)[:, -16:], targets - q_now)


def test_normalization_statistics_are_fitted_and_saved():
    net = ResidualPolicyNet(ResidualConfig(hidden=(16,)))
    proprio, targets = _inputs(256)
    net.fit_normalization(proprio, targets)
    feats = (net.features(proprio, targets) - net.feature_mean) / net.feature_std
    varying = net.features(proprio, targets).std(0) > 1e-2
    torch.testing.assert_close(feats.mean(0), torch.zeros(feats.shape[1]), atol=1e-4, rtol=0)
    torch.testing.assert_close(feats[:, varying].std(0), torch.ones(int(varying.sum())), atol=1e-3, rtol=0)
    assert "feature_std" in net.state_dict() and bool(net.normalization_fitted)
    assert net.feature_std.min() >= 1e-3  # the constant wrist/axis inputs get a floor, not 0


def test_config_round_trip_and_errors():
    cfg = ResidualConfig(history=3, hidden=(8, 4), max_correction=0.02)
    assert ResidualConfig.from_dict(cfg.to_dict()) == cfg and cfg.obs_dim == 3 * 32 + 7
    with pytest.raises(ValueError, match=r"unknown ResidualConfig fields \['width'\]"):
        ResidualConfig.from_dict({"width": 3})
    with pytest.raises(ValueError, match="max_correction > 0"):
        ResidualConfig(max_correction=0.0)
    net = ResidualPolicyNet(cfg)
    with pytest.raises(ValueError, match=r"expected proprio \(B, 103\).*observation history 3"):
        net(*_inputs(history=10))


def test_joint_structure_keeps_each_joint_to_its_own_inputs(tmp_path):
    from dexndm.residual.checkpoint import load_residual, save_residual
    from dexndm.residual.model import JointResidualNet, build_residual_net

    torch.manual_seed(0)
    net = build_residual_net(ResidualConfig(hidden=(16,), structure="joint"))
    assert isinstance(net, JointResidualNet)
    for p in net.parameters():  # leave the zero-initialised head: something to differentiate
        torch.nn.init.normal_(p, std=0.3)
    proprio = torch.randn(4, net.config.obs_dim, requires_grad=True)
    targets = torch.randn(4, C.NUM_JOINTS, requires_grad=True)
    out = net(proprio, targets)
    assert out.shape == (4, C.NUM_JOINTS) and out.abs().max() <= net.config.max_correction
    g_obs, g_tgt = torch.autograd.grad(out[:, 5].sum(), (proprio, targets))
    # joint 5 reads only joint 5's positions and targets in the (q, target) pairs, and its own target
    pairs = g_obs[:, : net.config.history * 2 * C.NUM_JOINTS].reshape(4, net.config.history, 2, C.NUM_JOINTS)
    assert pairs[..., 5].abs().sum() > 0
    assert pairs[..., :5].abs().sum() == 0 and pairs[..., 6:].abs().sum() == 0
    assert g_obs[:, net.config.history * 2 * C.NUM_JOINTS :].abs().sum() == 0  # not the wrist or axis
    assert g_tgt[:, 5].abs().sum() > 0 and g_tgt[:, :5].abs().sum() == 0
    path = save_residual(tmp_path / "joint.pt", net)
    loaded, _ = load_residual(path)
    assert isinstance(loaded, JointResidualNet)
    assert torch.allclose(loaded(proprio, targets), out)
