"""Simulated episodes: the real-episode schema plus observations, aligned, resumable, replayable."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dexndm.data import EpisodeStore, real_episode_schema
from dexndm.dynamics.datasets import load_episode_arrays
from dexndm.dynamics.sim_episodes import (
    SimEpisodeConfig,
    record_policy_episodes,
    replay_joint_targets,
    sim_episode_schema,
    simulate_policy_episodes,
    tracking_error,
)
from dexndm.sim.config import EnvConfig, RandomizationConfig
from dexndm.sim.grasp import GraspConfig
from dexndm.sim.observations import split_proprio

STEPS = 30


@pytest.fixture(scope="module")
def env_cfg(grasp_cache) -> EnvConfig:
    return EnvConfig(
        objects=("cube",), wrists=("palm_up",), axes=("+z",), grasp=GraspConfig(candidates=48),
        grasp_cache_dir=grasp_cache, nthread=1, randomization=RandomizationConfig.none(),
    )  # fmt: skip


@pytest.fixture(scope="module")
def episodes(env_cfg):
    cfg = SimEpisodeConfig(episodes=6, steps=STEPS, num_envs=4, action_noise=0.3, seed=3)
    return simulate_policy_episodes("random", env_cfg, cfg)


def test_fields_are_aligned(episodes):
    arrays, metas = episodes
    assert set(arrays) == set(sim_episode_schema())
    assert arrays["joint_pos"].shape == (6, STEPS, 16) and arrays["proprio_obs"].shape == (6, STEPS, 327)
    q_hist, a_hist, _, axis = split_proprio(arrays["proprio_obs"].reshape(-1, 327), 10)
    # o_t's newest position is q_t (no joint noise in the nominal sim) ...
    np.testing.assert_array_equal(q_hist[:, -1], arrays["joint_pos"].reshape(-1, 16))
    np.testing.assert_allclose(axis, np.tile([0, 0, 1], (6 * STEPS, 1)), atol=1e-6)
    # ... and targets change by at most 1/24 rad per step: they are the env's relative chain
    assert np.abs(np.diff(arrays["joint_targets"], axis=1)).max() <= 1 / 24 + 1e-6
    assert all(m["fell_step"] >= -1 and "kp_scale" in m for m in metas)
    assert 0 < sum(m["noise"] for m in metas) < 6  # noise in some episodes, not all


def test_replaying_recorded_targets_reproduces_the_episode(env_cfg, episodes):
    arrays, metas = episodes
    replayed, info = replay_joint_targets(
        dataclasses.replace(env_cfg, num_envs=4), arrays["joint_targets"], seed=3
    )
    assert info["clipped_fraction"] == 0.0
    held = np.array([m["fell_step"] if m["fell_step"] >= 0 else STEPS for m in metas])
    # targets are stored as float32 (1e-7 rad off); contacts amplify that a little, nothing more
    assert tracking_error(replayed["joint_pos"], arrays["joint_pos"], held) < 1e-3
    softer = dataclasses.replace(env_cfg, num_envs=4, randomization=dataclasses.replace(
        RandomizationConfig.none(), kp_scale=(0.6, 0.6)))  # fmt: skip
    gapped, _ = replay_joint_targets(softer, arrays["joint_targets"], seed=3)
    assert tracking_error(gapped["joint_pos"], arrays["joint_pos"], held) > 3e-3


def test_record_resumes_without_duplicates_or_changes(env_cfg, tmp_path):
    cfg = SimEpisodeConfig(episodes=8, steps=12, num_envs=4, seed=1)
    fresh = record_policy_episodes("random", env_cfg, tmp_path / "fresh", cfg, progress=False)
    partial = record_policy_episodes(
        "random", env_cfg, tmp_path / "resumed", dataclasses.replace(cfg, episodes=4), progress=False
    )
    first = partial.stack(["joint_pos", "proprio_obs"])
    partial.close()
    resumed = record_policy_episodes("random", env_cfg, tmp_path / "resumed", cfg, progress=False)
    assert len(resumed) == len(fresh) == 8
    assert sorted(resumed.meta(i)["key"] for i in resumed.episode_indices()) == sorted(
        fresh.meta(i)["key"] for i in fresh.episode_indices()
    )
    again = resumed.stack(["joint_pos", "proprio_obs"])
    for field in first:
        np.testing.assert_array_equal(again[field][:4], first[field])  # untouched
        np.testing.assert_array_equal(again[field], fresh.stack(field)[field])  # same as one run


def test_dynamics_loader_reads_real_and_sim_stores(env_cfg, episodes, tmp_path):
    arrays, _ = episodes
    real = EpisodeStore.create(tmp_path / "real", real_episode_schema())
    for e in range(3):
        real.append({k: arrays[k][e, : STEPS - e] for k in real_episode_schema()}, {"key": f"ep{e}"})
    loaded = load_episode_arrays(tmp_path / "real")
    assert loaded["joint_pos"].shape == (3, STEPS - 2, 16)  # cut to the shortest episode
    np.testing.assert_array_equal(loaded["joint_targets"][1], arrays["joint_targets"][1, : STEPS - 2])
    with pytest.raises(Exception, match=r"no field\(s\) \['proprio_obs'\]"):
        load_episode_arrays(tmp_path / "real", ("joint_pos", "proprio_obs"))
    with pytest.raises(Exception, match="no episode of at least 100 steps"):
        load_episode_arrays(tmp_path / "real", min_steps=100)
