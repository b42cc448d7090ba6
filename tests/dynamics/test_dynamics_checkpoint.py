"""Checkpoints: round trip, refusals with clear messages, exact resume, TensorBoard output."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from dexndm.dynamics import (
    CheckpointMismatchError,
    FitConfig,
    JointWiseDynamics,
    WholeHandDynamics,
    fit_dynamics,
    load_dynamics,
    load_extra,
    save_dynamics,
)

WINDOW = 10
TINY = FitConfig(
    steps=40, batch_size=64, lr=3e-3, eval_every=10, checkpoint_every=10, eval_windows=200, progress=False
)


def _model(seed: int = 0, hidden: tuple[int, ...] = (16,)) -> JointWiseDynamics:
    torch.manual_seed(seed)
    return JointWiseDynamics(window=WINDOW, hidden=hidden)


def test_round_trip_restores_weights_buffers_and_config(tmp_path, random_history):
    model = _model()
    q, a = random_history
    model.fit_normalization(q, a, q[:, -1] + 0.01)
    path = save_dynamics(tmp_path / "ndm.pt", model, extra={"source": "unit test", "step": 3})
    loaded = load_dynamics(path, expected_config=model.config)
    assert loaded.config == model.config and not loaded.training
    assert bool(loaded.normalization_fitted)
    torch.testing.assert_close(loaded(q, a), model(q, a), rtol=0, atol=0)
    assert load_extra(path) == {"source": "unit test", "step": 3}
    sidecar = json.loads((tmp_path / "ndm.pt.json").read_text())
    assert sidecar["model_config"]["kind"] == "joint" and sidecar["extra"]["step"] == 3


def test_other_config_is_refused_naming_the_difference(tmp_path):
    path = save_dynamics(tmp_path / "ndm.pt", _model(hidden=(16,)))
    expected = _model(hidden=(32, 32)).config
    with pytest.raises(CheckpointMismatchError, match=r"hidden: checkpoint \[16\] vs expected \[32, 32\]"):
        load_dynamics(path, expected_config=expected)
    whole = WholeHandDynamics(window=WINDOW, hidden=(16,)).config
    with pytest.raises(CheckpointMismatchError, match="kind: checkpoint 'joint' vs expected 'whole'"):
        load_dynamics(path, expected_config=whole)


def test_other_format_version_or_file_is_refused(tmp_path):
    path = save_dynamics(tmp_path / "ndm.pt", _model())
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(CheckpointMismatchError, match="format version 99, but this dexndm reads version 1"):
        load_dynamics(tmp_path / "future.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointMismatchError, match="not a dexndm dynamics model"):
        load_dynamics(tmp_path / "other.pt")


class _Crash(RuntimeError):
    pass


def _crash_at(step: int):
    def on_step(done: int, loss: float) -> None:
        if done == step:
            raise _Crash(f"simulated crash after step {done}")

    return on_step


def test_resume_after_crash_continues_from_saved_step_exactly(hand_split, tmp_path):
    train, evaluation = hand_split
    reference = _model()
    fit_dynamics(reference, train, evaluation, dataclasses.replace(TINY, log_dir=str(tmp_path / "ref")))

    cfg = dataclasses.replace(TINY, log_dir=str(tmp_path / "run"))
    with pytest.raises(_Crash):
        fit_dynamics(_model(), train, evaluation, cfg, on_step=_crash_at(25))
    resumed = _model(seed=123)  # different init: everything must come from the checkpoint
    result = fit_dynamics(resumed, train, evaluation, cfg)
    assert (result.start_step, result.final_step) == (20, 40)
    assert [r["step"] for r in result.history] == [0, 10, 20, 30, 40]
    # Same model, optimizer and sampler state: bit-identical to the uninterrupted run.
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=0)
    assert (tmp_path / "run" / "tb").is_dir() and any((tmp_path / "run" / "tb").iterdir())
    best = load_dynamics(tmp_path / "run" / "best.pt")
    assert load_extra(tmp_path / "run" / "best.pt")["step"] == result.best_step

    # A finished run resumes to "nothing left to do"; a longer run extends it.
    again = fit_dynamics(_model(), train, evaluation, cfg)
    assert (again.start_step, again.final_step) == (40, 40)
    longer = fit_dynamics(_model(), train, evaluation, dataclasses.replace(cfg, steps=50))
    assert (longer.start_step, longer.final_step) == (40, 50)
    assert best.config == resumed.config


def test_anchored_fit_resumes_toward_its_own_start_weights(hand_split, tmp_path):
    """The anchor (L2-SP) is the weights the run started from, kept in its checkpoint: a resume
    handed other weights still pulls toward the original ones, bit for bit as without the crash.
    Settings that predate the anchor resume as anchor 0, and a changed anchor is refused."""
    train, evaluation = hand_split
    cfg = dataclasses.replace(TINY, anchor_weight=1e-2)
    reference = _model()
    fit_dynamics(reference, train, evaluation, dataclasses.replace(cfg, log_dir=str(tmp_path / "ref")))

    run_cfg = dataclasses.replace(cfg, log_dir=str(tmp_path / "run"))
    with pytest.raises(_Crash):
        fit_dynamics(_model(), train, evaluation, run_cfg, on_step=_crash_at(25))
    resumed = _model(seed=123)
    fit_dynamics(resumed, train, evaluation, run_cfg)
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=0)
    with pytest.raises(CheckpointMismatchError, match=r"anchor_weight: checkpoint 0.01 vs now 0.1"):
        fit_dynamics(_model(), train, evaluation, dataclasses.replace(run_cfg, anchor_weight=0.1))

    # a checkpoint written before the setting existed resumes as an unanchored run
    plain = dataclasses.replace(TINY, steps=10, log_dir=str(tmp_path / "old"))
    fit_dynamics(_model(), train, evaluation, plain)
    last = tmp_path / "old" / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    del state["fit_config"]["anchor_weight"]
    torch.save(state, last)
    assert fit_dynamics(_model(), train, evaluation, dataclasses.replace(plain, steps=20)).start_step == 10


def test_resume_with_changed_settings_is_refused(hand_split, tmp_path):
    train, evaluation = hand_split
    cfg = dataclasses.replace(TINY, steps=10, log_dir=str(tmp_path))
    fit_dynamics(_model(), train, evaluation, cfg)
    with pytest.raises(CheckpointMismatchError, match=r"lr: checkpoint 0.003 vs now 0.01"):
        fit_dynamics(_model(), train, evaluation, dataclasses.replace(cfg, lr=1e-2))
    with pytest.raises(CheckpointMismatchError, match=r"hidden: checkpoint \[16\] vs expected \[8\]"):
        fit_dynamics(_model(hidden=(8,)), train, evaluation, cfg)
    # resume=False starts over instead.
    result = fit_dynamics(_model(hidden=(8,)), train, evaluation, dataclasses.replace(cfg, resume=False))
    assert result.start_step == 0
