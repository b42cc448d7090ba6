"""The batched rotation env: shapes, determinism, actions, episode ends, grasps that hold."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dexndm.hand import constants as C
from dexndm.sim.config import EnvConfig, RandomizationConfig
from dexndm.sim.env import RotationEnv
from dexndm.sim.grasp import GraspConfig
from dexndm.sim.rotations import quat_rotate_inv


@pytest.fixture(scope="module")
def cfg(grasp_cache) -> EnvConfig:
    return EnvConfig(
        num_envs=6,
        objects=("cube",),
        wrists=("palm_up", "palm_down"),
        axes=("principal",),
        grasp=GraspConfig(candidates=48),
        grasp_cache_dir=grasp_cache,
        nthread=1,
    )


def test_shapes_and_finite(cfg):
    env = RotationEnv(cfg)
    obs = env.reset()
    assert obs["proprio"].shape == (6, 10 * 32 + 7)
    assert obs["privileged"].shape == (6, env.privileged_dim)
    rng = np.random.default_rng(0)
    for _ in range(20):
        obs, rew, term, trunc, info = env.step(rng.uniform(-1, 1, (6, 16)))
        assert rew.shape == (6,) and term.dtype == bool and trunc.dtype == bool
        assert all(np.all(np.isfinite(v)) for v in obs.values())
        assert np.all(np.isfinite(rew))


def test_same_seed_same_trajectory(cfg):
    actions = np.random.default_rng(1).uniform(-1, 1, (15, 6, 16))

    def run(seed):
        env = RotationEnv(dataclasses.replace(cfg, seed=seed))
        out = [env.step(a)[0]["privileged"] for a in actions]
        return np.stack(out)

    a, b, c = run(3), run(3), run(4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_relative_actions_are_scaled_and_clamped(cfg):
    env = RotationEnv(dataclasses.replace(cfg, randomization=RandomizationConfig.none()))
    before = env.targets.copy()
    env.step(np.full((6, 16), 0.5))
    np.testing.assert_allclose(env.targets, np.clip(before + 0.5 / 24, C.JOINT_LOWER, C.JOINT_UPPER))
    for _ in range(80):
        env.step(np.full((6, 16), 3.0))  # out-of-range actions are clipped to 1, targets to the limits
    assert np.all(env.targets <= C.JOINT_UPPER + 1e-12)
    with pytest.raises(ValueError, match="finite"):
        env.step(np.full((6, 16), np.nan))


def test_time_out_autoresets_same_step(cfg):
    env = RotationEnv(dataclasses.replace(cfg, episode_steps=5, randomization=RandomizationConfig.none()))
    fell = np.zeros(6, dtype=bool)
    for _ in range(5):
        obs, rew, term, trunc, info = env.step(np.zeros((6, 16)))
        fell |= term
    survived = ~fell
    assert survived.sum() >= 4
    assert np.all(trunc[survived]) and not np.any(trunc & term)
    ttf = info["final_metrics"]["ttf"]
    np.testing.assert_allclose(ttf[trunc[info["final_env_ids"]]], 1.0)
    assert np.all(env.step_count[survived] == 0)  # they started a new episode on the same step
    # the returned observation is the new episode's first one: its history is constant
    q_hist = obs["proprio"][survived, : 10 * 32].reshape(-1, 10, 32)[:, :, :16]
    assert np.allclose(q_hist, q_hist[:, :1], atol=0.006)


def test_cached_grasps_hold_palm_up_and_down(cfg):
    """With the grasp targets held and no randomization, the object stays for 2 s."""
    env = RotationEnv(dataclasses.replace(cfg, num_envs=8, randomization=RandomizationConfig.none()))
    fell = np.zeros(8, dtype=bool)
    for _ in range(40):
        _, _, term, _, _ = env.step(np.zeros((8, 16)))
        fell |= term
    assert fell.mean() <= 0.25, f"{fell.sum()} of 8 held grasps dropped the object"


def test_opening_the_hand_palm_down_drops_the_object(cfg):
    env = RotationEnv(
        dataclasses.replace(cfg, wrists=("palm_down",), randomization=RandomizationConfig.none())
    )
    ended = np.zeros(6, dtype=bool)
    for _ in range(40):
        _, _, term, _, info = env.step(np.full((6, 16), -1.0))
        ended |= term
    assert ended.all(), "palm down with the fingers opening, every object must fall"


def test_wrist_orientation_sets_gravity_in_hand_frame(cfg):
    env = RotationEnv(dataclasses.replace(cfg, wrists=("palm_down",)))
    g_hand = quat_rotate_inv(env.wrist_quat, np.tile([0.0, 0.0, -1.0], (6, 1)))
    np.testing.assert_allclose(g_hand, np.tile([0.0, 0.0, 1.0], (6, 1)), atol=1e-9)  # palm faces the floor
    model, data = env.mj_model_data(0)
    np.testing.assert_allclose(data.mocap_quat[0], env.wrist_quat[0])
