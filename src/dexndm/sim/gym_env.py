"""A Gymnasium single-env face of the rotation task, for users of other RL libraries.

Observation: ``Dict(proprio=Box(327,), privileged=Box(408,))`` float32 (T = 10); action:
``Box(-1, 1, (16,))``. The task, rewards and episode ends are :class:`RotationEnv`'s (see
:mod:`dexndm.sim.env`). Gymnasium's own autoreset applies: this env does not reset itself, and
``reset()`` starts the next episode. ``reset(seed=s)`` restarts the random stream from ``s``, so
``(cfg, s)`` fixes every episode that follows it; the grasp cache and the object scale belong to
``cfg.seed`` and are made once, when the first ``reset`` builds the task (a new seed does not
search grasps again).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np

from dexndm.hand import constants as C
from dexndm.sim.config import EnvConfig
from dexndm.sim.env import PHYS_PARAMS, PRIVILEGED_EXTRA, RotationEnv
from dexndm.sim.observations import proprio_dim


class RotationGymEnv(gym.Env):
    """One :class:`RotationEnv` simulation behind ``gymnasium.Env``.

    ``step`` returns ``(obs, reward, terminated, truncated, info)``: ``info`` holds the reward
    terms, and ``info["episode"]`` the episode's metrics (RotR, TTF, ...) on its last step.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, cfg: EnvConfig | None = None, render_mode: str | None = None):
        self.cfg = dataclasses.replace(cfg or EnvConfig(), num_envs=1)
        self._env: RotationEnv | None = None
        self.render_mode = render_mode
        self._renderer = None
        proprio = proprio_dim(self.cfg.history)
        dims = (proprio, proprio + PRIVILEGED_EXTRA + PHYS_PARAMS)
        self.observation_space = gym.spaces.Dict(
            {
                "proprio": gym.spaces.Box(-np.inf, np.inf, (dims[0],), np.float32),
                "privileged": gym.spaces.Box(-np.inf, np.inf, (dims[1],), np.float32),
            }
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (C.NUM_JOINTS,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        built = self._env is None
        if self._env is None:
            self._env = RotationEnv(self.cfg)  # builds the task and starts a first episode
            self._env.autoreset = False
        if seed is not None:
            self._env.reseed(seed)
        if seed is not None or not built:
            self._env._reset_envs(np.array([0]))
        return self._single(self._env.observations()), {}

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict[str, Any]]:
        if self._env is None:
            raise RuntimeError("RotationGymEnv.step called before reset(): call reset() first")
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (C.NUM_JOINTS,):
            raise ValueError(f"action must be a ({C.NUM_JOINTS},) array in [-1, 1], got shape {action.shape}")
        obs, reward, term, trunc, info = self._env.step(action[None])
        out_info: dict[str, Any] = {k: float(v[0]) for k, v in info["reward_terms"].items()}
        if "final_metrics" in info:
            out_info["episode"] = {k: float(v[0]) for k, v in info["final_metrics"].items()}
        return self._single(obs), float(reward[0]), bool(term[0]), bool(trunc[0]), out_info

    @staticmethod
    def _single(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in obs.items()}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._env is None:
            return None
        import mujoco

        model, data = self._env.mj_model_data(0)
        if self._renderer is None:
            self._renderer = mujoco.Renderer(model, 480, 640)
        self._renderer.update_scene(data, camera="side")
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
