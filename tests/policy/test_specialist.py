"""PPO specialists: learning on the real env, curriculum, checkpoints, resume, refusal."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dexndm.eval.policies import load_policy
from dexndm.policy.checkpoint import PolicyCheckpointError, load_policy_checkpoint
from dexndm.policy.config import CurriculumStage, PPOConfig, SpecialistConfig
from dexndm.policy.specialist import train_specialist


def _tiny(iterations: int, **kw) -> SpecialistConfig:
    base = dict(
        category="cube", num_envs=32, steps_per_env=16, iterations=iterations, save_interval=5,
        wrists=("palm_up",), axes=("+z",), curriculum=(CurriculumStage(0, ("palm_up",), ("+z",)),),
        ppo=PPOConfig(learning_rate=1e-3), nthread=1,
    )  # fmt: skip
    base.update(kw)
    return SpecialistConfig(**base)


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def test_ppo_improves_the_return_on_the_real_env(tmp_path):
    out = tmp_path / "run"
    # short episodes, so the per-step reward is not dominated by how far into an episode the
    # envs are (drift of the grasp is penalised and grows with episode time)
    train_specialist(_tiny(40, episode_steps=32), out, quiet=True)
    r = np.array([float(row["mean_step_reward"]) for row in _rows(out)])
    assert len(r) == 40
    first, last = r[:5].mean(), r[-5:].mean()
    # measured: -0.27 -> -0.16 (seed 0), -0.28 -> -0.18 (seed 1)
    assert last > first + 0.15 * abs(first), (first, last)


def test_resume_continues_from_the_checkpoint_and_refuses_another_config(tmp_path):
    out = tmp_path / "run"
    train_specialist(_tiny(5), out, quiet=True)
    first = load_policy_checkpoint(out / "latest.pt", kind="specialist")
    assert first["progress"]["iteration"] == 5
    # a kill between two saves leaves rows past the checkpoint: the resumed run redoes them
    with (out / "metrics.csv").open("a") as f:
        f.write(f"6,{6 * 512},1.0,0,-0.1,0,,,,,,,1.0,0.5,1.0,0.0\n")
    res = train_specialist(_tiny(10), out, quiet=True)  # same config, longer: resumes
    assert res.env_steps == 10 * 32 * 16
    rows = _rows(out)
    assert [int(r["iteration"]) for r in rows] == list(range(1, 11))
    second = load_policy_checkpoint(out / "latest.pt")
    assert not torch.equal(first["actor_state"]["mlp.0.weight"], second["actor_state"]["mlp.0.weight"])
    with pytest.raises(PolicyCheckpointError, match="different config.*num_envs"):
        train_specialist(_tiny(12, num_envs=16), out, quiet=True)
    # thread counts change speed only: a run moved to another machine resumes with its own
    res = train_specialist(_tiny(11, torch_threads=1, nthread=1), out, quiet=True)
    assert res.env_steps == 11 * 32 * 16
    assert json.loads((out / "config.json").read_text())["torch_threads"] == 1


def test_curriculum_stage_changes_what_resets_draw(tmp_path):
    cfg = _tiny(
        4, wrists=("palm_up", "palm_down"), axes=("principal",), save_interval=2,
        curriculum=(
            CurriculumStage(0, ("palm_up",), ("+z",)),
            CurriculumStage(2, ("palm_up", "palm_down"), ("principal",)),
        ),
    )  # fmt: skip
    assert cfg.stage_at(1)[0] == 0 and cfg.stage_at(2)[0] == 1
    train_specialist(cfg, tmp_path / "run", quiet=True)
    assert [int(r["stage"]) for r in _rows(tmp_path / "run")] == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="not in wrists"):
        _tiny(2, curriculum=(CurriculumStage(0, ("palm_down",), ("+z",)),))


def test_checkpoint_runs_as_a_policy_and_bad_files_are_refused(tmp_path):
    out = tmp_path / "run"
    train_specialist(_tiny(2, save_interval=1), out, quiet=True)
    policy = load_policy(out / "latest.pt")
    assert policy.uses_privileged
    obs = {"proprio": np.zeros((3, 327), np.float32), "privileged": np.zeros((3, 408), np.float32)}
    a = policy.act(obs)
    assert a.shape == (3, 16) and np.all(np.abs(a) <= 1)
    with pytest.raises(ValueError, match="expects 408 privileged inputs"):
        policy.act({"privileged": np.zeros((3, 400), np.float32)})
    other = tmp_path / "other.pt"
    torch.save({"format": "dexndm.policy", "format_version": 99, "kind": "specialist"}, other)
    with pytest.raises(PolicyCheckpointError, match="format version 99"):
        load_policy(other)
    torch.save({"model_state_dict": {}}, other)
    with pytest.raises(PolicyCheckpointError, match="not a dexndm policy checkpoint"):
        load_policy(other)


def test_warm_start_takes_the_source_networks_and_refuses_other_widths(tmp_path):
    from dexndm.policy.config import NetworkConfig

    src = tmp_path / "src"
    train_specialist(_tiny(1, save_interval=1), src, quiet=True)
    # the new run asks for noise 1.5; a warm start must come in with the source's (~0.5)
    warm = tmp_path / "warm"
    train_specialist(
        _tiny(1, network=NetworkConfig(init_std=1.5), init_from=str(src / "latest.pt")), warm, quiet=True
    )
    assert float(_rows(warm)[0]["action_std"]) < 0.6
    cold = tmp_path / "cold"
    train_specialist(_tiny(1, network=NetworkConfig(init_std=1.5)), cold, quiet=True)
    assert float(_rows(cold)[0]["action_std"]) > 1.3
    narrow = NetworkConfig(actor_hidden=(32,), critic_hidden=(32,))
    with pytest.raises(PolicyCheckpointError, match="same network widths"):
        train_specialist(_tiny(1, network=narrow, init_from=str(src / "latest.pt")), tmp_path / "x")


def test_the_reward_is_part_of_the_run(tmp_path):
    """A resumed run with another reward is refused; config.json records the reward."""
    import json

    from dexndm.sim.config import RewardConfig

    out = tmp_path / "run"
    train_specialist(_tiny(1, save_interval=1), out, quiet=True)
    assert json.loads((out / "config.json").read_text())["reward"]["pos_weight"] == RewardConfig().pos_weight
    with pytest.raises(PolicyCheckpointError, match="different config.*reward"):
        train_specialist(_tiny(2, reward=RewardConfig(pos_weight=0.0)), out, quiet=True)


def test_an_identified_hand_becomes_the_training_sim(tmp_path):
    """``train specialist --sysid``: the fitted hand and latency reach the env and the record."""
    import dataclasses

    from dexndm.hand.model import HandConfig
    from dexndm.policy.cli import TrainSpecialistCmd
    from dexndm.policy.specialist import env_config_for
    from dexndm.sim.env import RotationEnv
    from dexndm.sysid import IdentifiedHand

    hand = dataclasses.replace(HandConfig(), kp=2.1, kd=0.01, torque_limit=0.18)
    ident = IdentifiedHand(
        hand=hand, latency_substeps=2, latency_fitted_substeps=1.6, error_nominal_mrad=10.0,
        error_fitted_mrad=3.0, error_hold_mrad=40.0,
    )  # fmt: skip
    path = ident.save(tmp_path / "hand.json")
    out = tmp_path / "run"
    assert TrainSpecialistCmd(spec=_tiny(1, save_interval=1), out=out, sysid=path).run() == 0
    stored = SpecialistConfig.from_dict(json.loads((out / "config.json").read_text()))
    assert stored.hand == hand and stored.latency_substeps == (1, 3)
    env = RotationEnv(env_config_for(stored, num_envs=2))
    try:
        model = env.groups[0].model
        assert np.allclose(model.actuator_gainprm[:, 0], 2.1)
        assert np.allclose(model.actuator_forcerange[:, 1], 0.18)
    finally:
        env.close()
    # a run's config.json from before the hand was recorded reads as the nominal hand
    old = {k: v for k, v in stored.to_dict().items() if k not in ("hand", "latency_substeps")}
    assert SpecialistConfig.from_dict(json.loads(json.dumps(old))).hand == HandConfig()
