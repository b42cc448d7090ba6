"""Base + residual as one ONNX policy: matches torch, carries its sidecar, runs where policies run."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from dexndm.data.atomic import sha256_file
from dexndm.hand import constants as C
from dexndm.residual.deploy import TargetChainPolicy, residual_policy
from dexndm.residual.export import BasePlusResidual, base_torch_module, export_onnx
from dexndm.residual.model import ResidualConfig, ResidualPolicyNet


class MLPBase:
    """A proprioceptive base policy backed by a torch MLP (the shape of the generalist)."""

    uses_privileged = False

    def __init__(self, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.torch_module = torch.nn.Sequential(
            torch.nn.Linear(327, 64), torch.nn.ELU(), torch.nn.Linear(64, 16), torch.nn.Tanh()
        )

    @torch.no_grad()
    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self.torch_module(torch.as_tensor(obs["proprio"])).numpy().astype(np.float64)


def _residual(seed: int = 1) -> ResidualPolicyNet:
    torch.manual_seed(seed)
    net = ResidualPolicyNet(ResidualConfig(hidden=(32, 32), max_correction=0.05))
    torch.nn.init.normal_(net.head.weight, std=0.3)
    return net.eval()


def _observations(n: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pairs = C.clamp_to_limits(C.DEFAULT_POSE + 0.2 * rng.normal(size=(n, 10, 2, 16)))
    tail = np.c_[np.tile([1.0, 0, 0, 0], (n, 1)), np.tile([0.0, 0, 1], (n, 1))]
    proprio = np.c_[pairs.reshape(n, -1), tail].astype(np.float32)
    return proprio, pairs[:, -1, 1].astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base, residual = MLPBase(), _residual()
    path = tmp_path_factory.mktemp("export") / "policy.onnx"
    export_onnx(BasePlusResidual(base.torch_module, residual), path, 10, sources={"base_policy": "test"})
    return base, residual, path


def test_onnxruntime_matches_torch(exported):
    base, residual, path = exported
    proprio, prev = _observations(257)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"proprio": proprio, "prev_joint_targets": prev})
    with torch.no_grad():
        expected = BasePlusResidual(base.torch_module, residual)(
            torch.as_tensor(proprio), torch.as_tensor(prev)
        )
    for g, e in zip(got, expected, strict=True):
        assert np.abs(g - e.numpy()).max() <= 1e-5
    final, base_targets = got
    assert 1e-3 < np.abs(final - base_targets).max() <= 0.05 + 1e-6  # the correction, bounded
    assert np.abs(base_targets - prev).max() <= C.ACTION_SCALE + 1e-6  # the base's relative step


def test_sidecar_says_what_deployment_needs(exported):
    _, _, path = exported
    side = json.loads(path.with_name("policy.onnx.json").read_text())
    assert side["format"] == "dexndm.policy.onnx" and side["observation"]["history"] == 10
    assert side["joint_names"] == list(C.JOINT_NAMES) and side["inputs"]["proprio"]["shape"] == ["N", 327]
    assert side["action_scale_rad"] == pytest.approx(1 / 24) and side["control_dt_s"] == pytest.approx(0.05)
    assert side["max_correction_rad"] == 0.05 and side["check"]["max_abs_difference_rad"] <= 1e-5
    assert side["sources"] == {"base_policy": "test"} and len(side["artifact"]["sha256"]) == 64


def test_sidecar_hash_is_the_written_graph(exported):
    _, _, path = exported
    side = json.loads(path.with_name("policy.onnx.json").read_text())
    assert side["artifact"] == {
        "file": "policy.onnx", "sha256": sha256_file(path), "bytes": path.stat().st_size,
    }  # fmt: skip


def test_a_failed_export_writes_neither_file(tmp_path):
    class Unrecordable(torch.nn.Module):  # a correction whose bound the sidecar cannot state
        def forward(self, proprio, base_targets):
            return torch.zeros_like(base_targets)

    path = tmp_path / "policy.onnx"
    with pytest.raises(AttributeError):
        export_onnx(BasePlusResidual(MLPBase().torch_module, Unrecordable()), path, 10)
    assert list(tmp_path.iterdir()) == []  # no graph without the sidecar that makes it loadable


def test_onnx_and_torch_runners_act_alike(exported):
    """load_policy('policy.onnx') and base + residual in torch give the same relative actions."""
    from dexndm.eval.policies import load_policy
    from dexndm.residual.deploy import register

    register()  # what importing dexndm.cli does
    base, residual, path = exported
    onnx_policy = load_policy(path)
    torch_policy = residual_policy(base, residual)
    assert isinstance(onnx_policy, TargetChainPolicy)
    proprio, _ = _observations(5)
    for policy in (onnx_policy, torch_policy):
        policy.reset(np.arange(5))
    for _ in range(4):
        a, b = onnx_policy.act({"proprio": proprio}), torch_policy.act({"proprio": proprio})
        np.testing.assert_allclose(a, b, atol=1e-4)  # 1e-5 rad of targets = 2.4e-4 of action
        assert np.abs(a).max() <= 1.0
        proprio = proprio + 0.01


def test_target_chain_keeps_base_and_sent_targets_apart():
    """The base chain integrates only the base's steps; corrections ride on top, never pile up."""
    proprio, newest = _observations(2)
    steps = []

    def step(obs, prev):
        steps.append(prev.copy())
        base = prev + 0.01
        return base + 0.03, base  # a constant 0.03 rad correction

    policy = TargetChainPolicy(step, "test")
    policy.reset(np.arange(2))
    first = policy.act({"proprio": proprio})
    np.testing.assert_allclose(steps[0], newest, atol=1e-6)  # starts from the held targets
    np.testing.assert_allclose(first, np.full((2, 16), 0.04 * 24), atol=1e-6)  # base step + correction
    second = policy.act({"proprio": proprio})
    np.testing.assert_allclose(steps[1], newest + 0.01, atol=1e-6)  # the base chain, no correction
    np.testing.assert_allclose(second, np.full((2, 16), 0.01 * 24), atol=1e-6)
    assert policy.clipped_fraction == 0.0  # 0.04 rad is within the 1/24 rad a step allows
    policy.reset(np.array([1]))
    policy.act({"proprio": proprio})
    np.testing.assert_allclose(steps[2][1], newest[1], atol=1e-6)  # env 1 starts over
    np.testing.assert_allclose(steps[2][0], newest[0] + 0.02, atol=1e-6)


def test_policies_see_base_targets_in_their_history():
    """The loop records the sent targets (base + correction); base and residual see base targets,
    as in training (and as teleoperation keeps them)."""
    from dexndm.sim.observations import ProprioHistory, split_proprio

    seen = []

    def step(obs, prev):
        seen.append(split_proprio(obs["proprio"], 10)[1][0].copy())
        base = prev + 0.01
        return base + 0.03, base

    policy = TargetChainPolicy(step, "test")
    hist = ProprioHistory(10)
    sent = np.zeros(16)
    hist.start(np.zeros(16), sent)
    policy.reset(np.arange(1))
    for _ in range(3):
        action = policy.act({"proprio": hist.obs(np.array([1.0, 0, 0, 0]), np.array([0, 0, 1.0]))})
        sent = sent + action[0] * (1 / 24)  # what a loop holds and records
        hist.push(np.zeros(16), sent)
    np.testing.assert_allclose(sent, np.full(16, 0.06), atol=1e-6)  # base 0.03 + correction 0.03
    np.testing.assert_allclose(seen[2][-3:, 0], [0.0, 0.01, 0.02], atol=1e-6)  # the base chain
    np.testing.assert_allclose(hist.a[0, -3:, 0], [0.04, 0.05, 0.06], atol=1e-6)  # the sent ones


def test_a_base_without_a_torch_module_is_not_exportable():
    from dexndm.eval.policies import RandomPolicy

    with pytest.raises(ValueError, match="has no torch_module"):
        base_torch_module(RandomPolicy())
