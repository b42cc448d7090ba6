"""Policy baselines, the checkpoint-loader registry, and evaluation cell labels."""

from __future__ import annotations

import numpy as np
import pytest

from dexndm.eval import policies
from dexndm.eval.cells import axis_labels, wrist_labels
from dexndm.eval.policies import (
    HoldPolicy,
    Policy,
    RandomPolicy,
    load_policy,
    register_policy_loader,
)
from dexndm.sim.wrists_axes import UnknownNameError, parse_axis, parse_wrist


def _obs(n: int) -> dict[str, np.ndarray]:
    return {"proprio": np.zeros((n, 327), dtype=np.float32)}


def test_baselines_shapes_and_range():
    assert np.array_equal(HoldPolicy().act(_obs(5)), np.zeros((5, 16)))
    a = RandomPolicy(seed=3).act(_obs(7))
    assert a.shape == (7, 16) and a.min() >= -1 and a.max() <= 1 and a.std() > 0.3
    np.testing.assert_array_equal(a, RandomPolicy(seed=3).act(_obs(7)))  # seeded
    assert isinstance(HoldPolicy(), Policy) and isinstance(RandomPolicy(), Policy)


def test_load_policy_baselines_and_unregistered_checkpoint(tmp_path):
    assert isinstance(load_policy("hold"), HoldPolicy)
    assert load_policy("Random", seed=5).seed == 5
    ckpt = tmp_path / "policy.ckpt"
    ckpt.write_bytes(b"")
    with pytest.raises(NotImplementedError, match=r"no loader for '.ckpt' files; use hold, random"):
        load_policy(ckpt)
    empty = tmp_path / "policy.pt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="cannot be read as a dexndm policy checkpoint"):
        load_policy(empty)
    with pytest.raises(ValueError, match="unknown policy 'sideways'"):
        load_policy("sideways")


def test_registered_loader_is_used(tmp_path, monkeypatch):
    monkeypatch.setattr(policies, "_LOADERS", {})
    seen = {}

    def loader(path, **kwargs):
        seen.update(path=path, **kwargs)
        return HoldPolicy()

    register_policy_loader("onnx", loader)
    ckpt = tmp_path / "p.onnx"
    with pytest.raises(FileNotFoundError):
        load_policy(ckpt)
    ckpt.write_bytes(b"x")
    assert isinstance(load_policy(str(ckpt), device="cpu"), HoldPolicy)
    assert seen == {"path": ckpt, "device": "cpu"}


def test_cell_labels():
    assert wrist_labels(["all"])[:2] == ["palm_up", "palm_down"] and len(wrist_labels(["all"])) == 6
    assert wrist_labels(["Palm-Down", "0,2,0,0"]) == ["palm_down", "0,1,0,0"]
    assert axis_labels(["z", "principal"]) == ["+z", "+x", "-x", "+y", "-y", "-z"]
    assert axis_labels(["0,0,-3"]) == ["0,0,-1"]
    assert len(axis_labels(["general"])) == 32
    with pytest.raises(ValueError, match="fixed rotation axes"):
        axis_labels(["random"])
    with pytest.raises(ValueError, match="unknown wrist.*or 'all' for all six"):
        wrist_labels(["sideways"])
    # An unknown word is told the sets it could have meant; a bad vector only what is wrong with it.
    with pytest.raises(ValueError, match=r"unknown rotation axis '\+w'.*'principal'.*'general'"):
        axis_labels(["+w"])
    with pytest.raises(ValueError, match=r"not all zero, got '0,0,0'$"):
        axis_labels(["0,0,0"])
    # the parsers say which kind of mistake it was by type, not by the wording of the message
    with pytest.raises(UnknownNameError):
        parse_wrist("sideways")
    with pytest.raises(ValueError) as bad:
        parse_axis("1,2")
    assert not isinstance(bad.value, UnknownNameError)
