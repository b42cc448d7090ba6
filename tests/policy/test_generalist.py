"""Behaviour cloning, the generalist checkpoint and its ONNX export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dexndm.eval.policies import load_policy
from dexndm.policy.checkpoint import PolicyCheckpointError
from dexndm.policy.export import export_onnx, observation_layout
from dexndm.policy.generalist import BCConfig, GeneralistPolicy, load_bc_data, save_generalist, train_bc
from dexndm.policy.networks import ResidualMLP, ResidualMLPConfig


def _teacher_data(episodes: int = 40, steps: int = 50, dim: int = 327, seed: int = 0):
    """Observations with the proprio layout's scales and a smooth nonlinear teacher."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(0.5, 0.3, size=(episodes * steps, dim)).astype(np.float32)
    w = rng.normal(0, 1.0 / np.sqrt(dim), size=(dim, 16))
    act = np.tanh(np.sin(obs @ w * 2.0) + 0.3 * (obs[:, :16] - 0.5)).astype(np.float32)
    episode = np.repeat(np.arange(episodes, dtype=np.int32), steps)
    return obs, act, episode


def test_bc_drives_its_loss_down_and_the_student_matches_the_teacher():
    obs, act, ep = _teacher_data()
    cfg = BCConfig(network=ResidualMLPConfig(width=64, blocks=2), epochs=60, batch_size=256, torch_threads=1)
    res = train_bc(obs, act, ep, cfg, quiet=True)
    assert res.train_loss[-1] < 0.2 * res.train_loss[0]
    # on held-in states the student reproduces the teacher's actions closely
    with torch.no_grad():
        pred = res.model(torch.as_tensor(obs[:500])).numpy()
    assert np.mean(np.abs(pred - act[:500])) < 0.1
    assert np.mean(np.abs(act[:500])) > 0.3  # the targets are not trivially small


def test_generalist_checkpoint_and_onnx_round_trip(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = ResidualMLP(ResidualMLPConfig(width=32, blocks=2))
    model.set_normalization(torch.full((327,), 0.3), torch.full((327,), 0.7))
    path = save_generalist(tmp_path / "g.pt", model, history=10, provenance={"note": "test"})
    policy = load_policy(path)
    assert isinstance(policy, GeneralistPolicy) and not policy.uses_privileged
    x = np.random.default_rng(0).normal(size=(5, 327)).astype(np.float32)
    a_torch = policy.act({"proprio": x})
    onnx_path = export_onnx(model, 327, 10, tmp_path / "g.onnx")
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    a_onnx = sess.run(None, {"proprio": x})[0]
    np.testing.assert_allclose(a_onnx, a_torch, atol=1e-5)
    np.testing.assert_allclose(load_policy(onnx_path).act({"proprio": x}), a_torch, atol=1e-5)
    side = json.loads((tmp_path / "g.onnx.json").read_text())
    assert side["history"] == 10 and side["action_scale"] == pytest.approx(1 / 24)
    assert side["control_period_s"] == pytest.approx(0.05) and len(side["joint_order"]) == 16
    assert side["input"]["layout"][-1] == {
        "name": "rotation_axis",
        "start": 324,
        "size": 3,
        "units": "unit vector, world frame",
    }
    assert len(observation_layout(10)) == 22
    with pytest.raises(ValueError, match="expects 327 proprioceptive inputs"):
        policy.act({"proprio": x[:, :300]})


def test_a_generalist_of_another_architecture_is_refused(tmp_path):
    model = ResidualMLP(ResidualMLPConfig(width=32, blocks=2))
    path = save_generalist(tmp_path / "g.pt", model, history=10, provenance={})
    payload = torch.load(path, weights_only=True)
    payload["config"]["network"]["blocks"] = 3  # the weights no longer fit the declared network
    torch.save(payload, path)
    with pytest.raises(PolicyCheckpointError, match="does not match this dexndm"):
        load_policy(path)


def test_truncated_bc_data_is_refused(tmp_path):
    p = tmp_path / "bc_x.npz"
    np.savez(
        p,
        obs=np.zeros((10, 327), np.float32),
        act=np.zeros((9, 16), np.float32),
        episode=np.zeros(10, np.int32),
    )
    with pytest.raises(ValueError, match="truncated or inconsistent"):
        load_bc_data([p])
    p.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a BC data file"):
        load_bc_data([p])


def test_provenance_with_configs_and_paths_still_loads_weights_only(tmp_path):
    """What `dexndm train generalist` records (BC config dataclass, paths, numpy numbers) must not
    make the checkpoint unreadable under torch.load(weights_only=True)."""
    from pathlib import Path

    prov = {"bc": BCConfig(), "specialists": [Path("a/b.pt")], "val_mse": np.float32(0.5)}
    path = save_generalist(tmp_path / "g.pt", ResidualMLP(ResidualMLPConfig(width=8, blocks=1)), 10, prov)
    payload = torch.load(path, weights_only=True)
    assert payload["progress"]["bc"]["epochs"] == BCConfig().epochs
    assert payload["progress"]["specialists"] == ["a/b.pt"]
    assert isinstance(load_policy(path), GeneralistPolicy)
