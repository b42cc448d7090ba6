"""Atomic writes keep the old file when the writer dies; sidecars record inputs and versions."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from dexndm.data import (
    EpisodeStore,
    atomic_write_bytes,
    atomic_write_text,
    atomic_writer,
    read_sidecar,
    sha256_file,
    write_sidecar,
)
from dexndm.data.atomic import sha256_bytes


def test_atomic_write_replaces_content(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_write_bytes(path, b"old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


def test_writer_dying_before_replace_keeps_old_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_write_bytes(path, b"old content")
    with pytest.raises(RuntimeError, match="writer died"), atomic_writer(path) as f:
        f.write(b"half of the new con")
        raise RuntimeError("writer died")
    assert path.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temp file left behind


def test_failed_replace_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "policy.onnx"
    atomic_write_bytes(path, b"old")

    def replace_fails(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", replace_fails)
    with pytest.raises(OSError, match="disk gone"):
        atomic_write_bytes(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["policy.onnx"]


def test_sidecar_records_inputs_and_versions(tmp_path, filled_store):
    ckpt = atomic_write_bytes(tmp_path / "dynamics.pt", b"weights")
    norm = atomic_write_bytes(tmp_path / "norm.npz", b"stats")
    side = write_sidecar(
        ckpt,
        command=["dexndm", "dynamics", "train", "--epochs", "3"],
        config={"epochs": 3, "out": tmp_path, "lr": np.float32(0.5), "hidden": (256, 256)},
        inputs={"episodes": filled_store.root, "norm": norm},
    )
    assert side == tmp_path / "dynamics.pt.json"
    data = read_sidecar(ckpt)
    assert data == json.loads(side.read_text()) == read_sidecar(side)
    assert data["command"] == "dexndm dynamics train --epochs 3"
    assert data["config"] == {"epochs": 3, "out": str(tmp_path), "lr": 0.5, "hidden": [256, 256]}
    assert data["artifact"] == {"file": "dynamics.pt", "sha256": sha256_bytes(b"weights"), "bytes": 7}
    assert data["inputs"]["norm"]["sha256"] == sha256_file(norm)
    # A store is identified by meta.json + manifest (which holds every episode's sha256).
    store_hash = data["inputs"]["episodes"]["sha256"]
    assert len(store_hash) == 64
    with EpisodeStore(filled_store.root) as store:
        store.drop(0)
    write_sidecar(ckpt, command="x", config={}, inputs={"episodes": filled_store.root})
    assert read_sidecar(ckpt)["inputs"]["episodes"]["sha256"] != store_hash  # the data changed
    for key in ("python", "dexndm", "numpy", "torch", "mujoco"):
        assert key in data["versions"]
    assert "git" in data and "created" in data

    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_sidecar(ckpt, command="x", config={}, inputs={"missing": tmp_path / "nope.npz"})
    with pytest.raises(FileNotFoundError, match="no sidecar"):
        read_sidecar(norm)
