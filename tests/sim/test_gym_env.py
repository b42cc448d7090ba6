"""The Gymnasium face: the API contract (gymnasium's own checker), reset/step semantics, seeds."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from dexndm.sim.config import RandomizationConfig
from dexndm.sim.gym_env import RotationGymEnv


def test_passes_gymnasiums_env_checker(cfg):
    env = RotationGymEnv(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # anything the checker warns about fails the test, except:
        # its advice for finite bounds: observations are unbounded physical quantities
        warnings.filterwarnings("ignore", message=".*Box observation space (minimum|maximum)")
        check_env(env, skip_render_check=True)


def test_reset_and_step_return_documented_shapes(cfg):
    env = RotationGymEnv(cfg)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(16))
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space and info == {}
    assert obs["privileged"].shape == env.observation_space["privileged"].shape
    np.testing.assert_array_equal(obs["privileged"][: obs["proprio"].shape[0]], obs["proprio"])
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs in env.observation_space
    assert isinstance(reward, float) and isinstance(terminated, bool) and isinstance(truncated, bool)
    # the reward is the sum of its documented terms
    terms = {k: v for k, v in info.items() if k != "episode"}
    assert {"rot", "rotp", "goal"} <= set(terms)
    assert reward == pytest.approx(sum(terms.values()))
    with pytest.raises(ValueError, match=r"\(16,\)"):
        env.step(np.zeros(15))


def test_time_out_truncates_and_reset_starts_a_new_episode(cfg):
    env = RotationGymEnv(dataclasses.replace(cfg, episode_steps=3, randomization=RandomizationConfig.none()))
    env.reset(seed=1)
    steps = [env.step(np.zeros(16, dtype=np.float32)) for _ in range(3)]
    assert [s[2:4] for s in steps] == [(False, False), (False, False), (False, True)]
    assert "episode" not in steps[1][4]
    episode = steps[2][4]["episode"]
    assert episode["ttf"] == 1.0 and episode["steps"] == 3.0
    obs, _ = env.reset()  # no seed: the next episode of the same task
    q_hist = obs["proprio"][: 10 * 32].reshape(10, 32)[:, :16]
    np.testing.assert_array_equal(q_hist, np.broadcast_to(q_hist[0], q_hist.shape))  # a fresh history
    assert not env.step(np.zeros(16, dtype=np.float32))[3]


def test_dropping_the_object_terminates(cfg):
    env = RotationGymEnv(
        dataclasses.replace(cfg, wrists=("palm_down",), randomization=RandomizationConfig.none())
    )
    env.reset(seed=0)
    steps, terminated = 0, False
    while not terminated and steps < 40:  # palm down, the fingers opening: the object falls
        _, _, terminated, truncated, info = env.step(-np.ones(16, dtype=np.float32))
        steps += 1
    assert terminated and not truncated
    assert info["episode"]["ttf"] == pytest.approx(steps / cfg.episode_steps)


def rollout(env: RotationGymEnv, seed: int, episodes: int = 12, steps: int = 3) -> np.ndarray:
    """Privileged observations of ``episodes`` episodes after ``reset(seed=seed)``, each under
    a fixed action sequence; episodes after the first start with a plain ``reset()``."""
    actions = np.random.default_rng(7).uniform(-1, 1, (steps, 16)).astype(np.float32)
    out = [env.reset(seed=seed)[0]["privileged"]]
    for e in range(episodes):
        if e:
            out.append(env.reset()[0]["privileged"])
        out.extend(env.step(a)[0]["privileged"] for a in actions)
    return np.stack(out)


def test_same_seed_same_episodes(cfg):
    # domain randomization on (masses, gains, latency, pushes...), and more than the 10 resets
    # after which the c_rotp ramp (a privileged observation) starts
    env = RotationGymEnv(cfg)
    a, b, c = rollout(env, seed=3), rollout(env, seed=3), rollout(RotationGymEnv(cfg), seed=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.allclose(a, rollout(env, seed=4))
