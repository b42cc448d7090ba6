"""``dexndm train residual`` end to end at tiny scale, with a generalist checkpoint as the base."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dexndm.cli import main
from dexndm.dynamics import FitConfig
from dexndm.dynamics.pipeline import DynamicsTrainingConfig, train_dynamics
from dexndm.dynamics.sim_episodes import SimEpisodeConfig, record_policy_episodes
from dexndm.eval.policies import load_policy
from dexndm.policy.generalist import save_generalist
from dexndm.policy.networks import ResidualMLP, ResidualMLPConfig
from dexndm.residual.deploy import TargetChainPolicy
from dexndm.sim.config import EnvConfig, RandomizationConfig
from dexndm.sim.env import RotationEnv
from dexndm.sim.grasp import GraspConfig


@pytest.fixture(scope="module")
def setup(grasp_cache, tmp_path_factory):
    """A (random, untrained) generalist, its sim episodes and a dynamics model fitted on them."""
    root = tmp_path_factory.mktemp("res_cli")
    torch.manual_seed(0)
    generalist = save_generalist(
        root / "generalist.pt", ResidualMLP(ResidualMLPConfig(width=32, blocks=1)), 10, {}
    )
    env = EnvConfig(
        objects=("cube",), wrists=("palm_up",), grasp=GraspConfig(candidates=48), grasp_cache_dir=grasp_cache,
        nthread=1, randomization=RandomizationConfig.none(),
    )  # fmt: skip
    store = record_policy_episodes(
        str(generalist), env, root / "sim", SimEpisodeConfig(4, 30, 4), progress=False
    )
    store.close()
    fit = FitConfig(steps=10, batch_size=32, eval_every=10, progress=False)
    cfg = DynamicsTrainingConfig(window=5, hidden=(16,), pretrain=fit, finetune=fit)
    train_dynamics(root / "ndm", sim_data=root / "sim", cfg=cfg)
    return root, env


def _args(root, out, *extra: str) -> list[str]:
    return [
        "train", "residual", "--dynamics", str(root / "ndm" / "dynamics.pt"), "--sim-data", str(root / "sim"),
        "--out", str(out), "--hidden", "16", "--steps", "6", "--batch-size", "16", "--horizon", "2",
        "--eval-horizon", "2", "--eval-every", "3", "--threads", "1", "--no-progress", *extra,
    ]  # fmt: skip


def test_train_residual_exports_one_policy_that_runs_in_eval(setup, tmp_path, capsys):
    root, env_cfg = setup
    out = tmp_path / "residual"
    assert main(_args(root, out)) == 0
    printed = capsys.readouterr().out
    # the model was only pre-trained in sim, so it is its own sim-model reference: no gap to close
    assert "the model predicts no gap from the reference" in printed and "exported base + residual" in printed
    side = json.loads((out / "residual.pt.json").read_text())
    assert side["extra"]["base_policy"] == str(root / "generalist.pt")
    assert side["extra"]["dynamics"]["config"]["window"] == 5
    onnx_side = json.loads((out / "policy.onnx.json").read_text())
    assert onnx_side["check"]["max_abs_difference_rad"] <= 1e-5
    # both artifacts load as base + residual and act alike in the env
    from_checkpoint, from_onnx = load_policy(out / "residual.pt"), load_policy(out / "policy.onnx")
    assert isinstance(from_checkpoint, TargetChainPolicy) and isinstance(from_onnx, TargetChainPolicy)
    env = RotationEnv(env_cfg)
    obs = env.reset()
    for policy in (from_checkpoint, from_onnx):
        policy.reset(np.arange(env.num_envs))
    for _ in range(5):
        a, b = from_checkpoint.act(obs), from_onnx.act(obs)
        np.testing.assert_allclose(a, b, atol=1e-3)
        obs = env.step(a)[0]
    # and the generalist's own checkpoints still load through the policy stage's loaders
    assert "Generalist" in type(load_policy(root / "generalist.pt")).__name__


def test_rerun_resumes_and_changed_settings_are_refused(setup, tmp_path, capsys):
    root, _ = setup
    out = tmp_path / "residual"
    assert main(_args(root, out, "--no-export")) == 0
    assert main(_args(root, out, "--no-export")) == 0  # resumes: nothing left to do
    capsys.readouterr()
    assert main(_args(root, out, "--no-export", "--horizon", "3")) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and "horizon: checkpoint 2 vs now 3" in err and "--no-resume" in err
    assert main(_args(root, out, "--no-export", "--hidden", "8")) == 2
    assert "different residual config" in capsys.readouterr().err
    assert main(_args(root, tmp_path / "r2", "--sim-dynamics", str(tmp_path / "none.pt"))) == 2
    assert "no sim-trained dynamics model" in capsys.readouterr().err
    real_store = tmp_path / "real"
    from dexndm.data import EpisodeStore, real_episode_schema

    EpisodeStore.create(real_store, real_episode_schema()).close()
    assert main(_args(root, out, "--sim-data", str(real_store))) == 2
    assert "has no proprio_obs" in capsys.readouterr().err


def test_a_model_that_is_its_own_reference_is_reported_as_no_gap_not_as_closed():
    from dexndm.residual.cli import closed_phrase
    from dexndm.residual.rollout import ResidualEvaluation

    # the fine-tune kept the sim-pretrained weights: both errors are zero, nothing was closed
    none = ResidualEvaluation(corrected_mae=0.0, uncorrected_mae=0.0, mean_abs_correction=0.0, horizon=10,
                              num_windows=380)  # fmt: skip
    assert closed_phrase(none).startswith("the model predicts no gap from the reference")
    some = ResidualEvaluation(0.003, 0.004, 0.008, 10, 380)
    assert closed_phrase(some) == "25% of the modelled gap closed"
