"""The proprioceptive history pairs each joint reading with the target that produced it."""

from __future__ import annotations

import numpy as np

from dexndm.hand import constants as C
from dexndm.sim.config import EnvConfig, RandomizationConfig
from dexndm.sim.env import RotationEnv


def test_latest_pair_holds_the_target_just_commanded_and_a_drop_is_charged():
    env = RotationEnv(EnvConfig(num_envs=2, randomization=RandomizationConfig.none(), episode_steps=50))
    start = env.targets.copy()
    a = np.full((2, 16), 0.5)
    obs, *_ = env.step(a)
    T = env.cfg.history
    pairs = obs["proprio"][:, : T * 32].reshape(2, T, 2, 16)
    expected = C.clamp_to_limits(start + 0.5 * C.ACTION_SCALE)
    np.testing.assert_allclose(pairs[:, -1, 1], expected, atol=1e-6)  # a_t with q_{t+1}
    np.testing.assert_allclose(pairs[:, -2, 1], start, atol=1e-6)
    np.testing.assert_allclose(pairs[:, -1, 0], env.q, atol=1e-6)
    # opening the hand palm down drops the cube: the drop step carries the fall penalty
    env2 = RotationEnv(EnvConfig(num_envs=2, wrists=("palm_down",), randomization=RandomizationConfig.none()))
    for _ in range(60):
        _, r, term, _, info = env2.step(np.full((2, 16), -1.0))
        if term.any():
            assert np.all(r[term] <= -env2.cfg.reward.fall_penalty + 1.0)
            np.testing.assert_allclose(info["reward_terms"]["fall"][term], -env2.cfg.reward.fall_penalty)
            break
    else:
        raise AssertionError("opening the hand palm down never dropped the cube")
