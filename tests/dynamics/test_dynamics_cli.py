"""``dexndm train dynamics`` end to end at tiny scale: pre-train, fine-tune, resume, refusals."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from dexndm.cli import main
from dexndm.data import EpisodeStore, real_episode_schema
from dexndm.dynamics import load_dynamics
from dexndm.dynamics.metrics import OpenLoopError
from dexndm.dynamics.pipeline import DynamicsTrainingConfig, train_dynamics, worse_than_hold
from dexndm.dynamics.sim_episodes import SimEpisodeConfig, record_policy_episodes, replay_joint_targets
from dexndm.dynamics.train import FitConfig
from dexndm.sim.config import EnvConfig, RandomizationConfig
from dexndm.sim.grasp import GraspConfig


@pytest.fixture(scope="module")
def stores(grasp_cache, tmp_path_factory):
    """A sim store (random policy) and a "real" one: its targets replayed with kp x0.6."""
    root = tmp_path_factory.mktemp("dyn_cli")
    env = EnvConfig(
        objects=("cube",), wrists=("palm_up",), grasp=GraspConfig(candidates=48), grasp_cache_dir=grasp_cache,
        nthread=1, randomization=RandomizationConfig.none(),
    )  # fmt: skip
    sim = record_policy_episodes("random", env, root / "sim", SimEpisodeConfig(4, 24, 4), progress=False)
    targets = sim.stack("joint_targets")["joint_targets"]
    sim.close()
    softer = dataclasses.replace(
        env, num_envs=4, randomization=dataclasses.replace(RandomizationConfig.none(), kp_scale=(0.6, 0.6))
    )
    arrays, _ = replay_joint_targets(softer, targets)
    with EpisodeStore.create(root / "real", real_episode_schema()) as real:
        for e in range(len(targets)):
            real.append({k: arrays[k][e] for k in real_episode_schema()}, {"key": f"replay/{e}"})
    return root / "sim", root / "real"


def _args(sim, real, out, *extra: str) -> list[str]:
    return [
        "train", "dynamics", "--sim-data", str(sim), "--real-data", str(real), "--out", str(out),
        "--window", "5", "--hidden", "16", "16", "--pretrain-steps", "20", "--finetune-steps", "20",
        "--batch-size", "64", "--eval-every", "10", "--threads", "1", "--no-progress", *extra,
    ]  # fmt: skip


def test_train_dynamics_end_to_end(stores, tmp_path, capsys):
    sim, real = stores
    out = tmp_path / "ndm"
    assert main(_args(sim, real, out)) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "| sim |" in printed and "| real |" in printed
    model = load_dynamics(out / "dynamics.pt")
    assert model.config.kind == "joint" and model.window == 5 and bool(model.normalization_fitted)
    side = json.loads((out / "dynamics.pt.json").read_text())
    assert side["extra"]["stage"] == "finetune"
    assert set(side["extra"]["inputs"]) == {"sim_data", "real_data"}
    real_err = side["extra"]["eval_error_rad"]["real"]
    assert np.isfinite(real_err["one_step"]) and real_err["hold_one_step"] > 0
    for name, err in side["extra"]["eval_error_rad"].items():  # warned exactly where it is so
        warned = f"predicts its held-out {name} episodes 10 steps ahead worse" in captured.err
        assert warned == (err["10_step"] > err["hold_10_step"])
    for stage in ("pretrain", "finetune"):
        assert (out / stage / "best.pt").exists() and (out / stage / "checkpoints" / "last.pt").exists()
        assert any((out / stage / "tb").iterdir())
    # the pre-trained statistics are kept: the fine-tune starts from the pre-trained function
    pretrained = load_dynamics(out / "pretrain" / "best.pt")
    np.testing.assert_array_equal(pretrained.input_mean.numpy(), model.input_mean.numpy())


def test_a_model_worse_than_nothing_moves_is_flagged():
    steps, joints = 10, 16
    hold = np.full((steps, joints), 0.010)

    def err(final_rad: float) -> OpenLoopError:
        mae = np.full((steps, joints), 0.001)
        mae[-1] = final_rad
        return OpenLoopError(mae, hold, num_windows=100)

    lines = worse_than_hold({"sim": err(0.004), "real": err(0.025)})
    assert len(lines) == 1 and "held-out real episodes 10 steps ahead" in lines[0]
    assert "25.00 against 10.00 mrad" in lines[0]
    assert worse_than_hold({"real": err(0.0099)}) == []


def test_the_fine_tune_can_fit_a_multi_step_loss_after_a_one_step_pretraining(stores, tmp_path):
    sim, real = stores
    out = tmp_path / "ndm"
    assert main(_args(sim, real, out, "--finetune-rollout-horizon", "3")) == 0
    training = json.loads((out / "dynamics.pt.json").read_text())["extra"]["training"]
    assert training["pretrain"]["rollout_horizon"] == 1 and training["finetune"]["rollout_horizon"] == 3
    # the fine-tune kept its best checkpoint by the error it was trained on: 3 steps ahead
    assert json.loads((out / "finetune" / "best.pt.json").read_text())["extra"]["eval_horizon"] == 3


def test_rerun_resumes_and_extends(stores, tmp_path):
    sim, real = stores
    cfg = DynamicsTrainingConfig(
        window=5, hidden=(16, 16), pretrain=FitConfig(steps=10, batch_size=32, eval_every=5, progress=False),
        finetune=FitConfig(steps=10, batch_size=32, eval_every=5, progress=False),
    )  # fmt: skip
    first = train_dynamics(tmp_path, sim, real, cfg)
    again = train_dynamics(tmp_path, sim, real, cfg)
    assert again.fits["pretrain"].start_step == again.fits["pretrain"].final_step == 10
    assert again.fits["finetune"].best_eval_mae == pytest.approx(first.fits["finetune"].best_eval_mae)
    longer = dataclasses.replace(cfg, finetune=dataclasses.replace(cfg.finetune, steps=15))
    assert train_dynamics(tmp_path, sim, real, longer).fits["finetune"].start_step == 10


def test_incompatible_checkpoints_are_refused(stores, tmp_path, capsys):
    sim, real = stores
    out = tmp_path / "ndm"
    assert main(_args(sim, real, out, "--pretrain-steps", "5", "--finetune-steps", "5")) == 0
    capsys.readouterr()
    assert main(_args(sim, real, out, "--arch", "whole")) == 2
    err = capsys.readouterr().err
    assert "different dynamics model config" in err and "kind: checkpoint 'joint' vs expected 'whole'" in err
    assert "--no-resume" in err
    # --init with a model of another window
    assert (
        main(_args(sim, real, tmp_path / "other", "--window", "4", "--init", str(out / "dynamics.pt"))) == 2
    )
    err = capsys.readouterr().err
    assert "window: checkpoint 5 vs expected 4" in err and "--init" in err
    assert main(["train", "dynamics", "--out", str(tmp_path / "x")]) == 2
    assert "--sim-data and/or --real-data" in capsys.readouterr().err


def test_a_fine_tune_that_kept_the_sim_pretrained_weights_is_noted():
    from dexndm.dynamics.models import DynamicsConfig, build_dynamics
    from dexndm.dynamics.pipeline import DynamicsTrainingResult, kept_pretrained
    from dexndm.dynamics.train import FitResult

    def result(**best_steps: int) -> DynamicsTrainingResult:
        fits = {stage: FitResult(0.01, step, 0, 30) for stage, step in best_steps.items()}
        return DynamicsTrainingResult(build_dynamics(DynamicsConfig()), Path("ndm/dynamics.pt"), fits)

    (line,) = kept_pretrained(result(pretrain=300, finetune=0))
    assert "saved model is the sim-pretrained one (best step 0)" in line
    assert kept_pretrained(result(pretrain=300, finetune=30)) == []
    # a fine-tune from scratch or a pre-training alone has no sim-pretrained start to keep
    assert kept_pretrained(result(finetune=0)) == [] and kept_pretrained(result(pretrain=0)) == []
