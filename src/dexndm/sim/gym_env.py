"""A Gymnasium single-env face of the rotation task, for users of other RL libraries.

Observation: ``Dict(proprio=Box(327,), privileged=Box(408,))``; action: ``Box(-1, 1, (16,))``.
Gymnasium's own autoreset applies (this env does not reset itself: ``reset()`` starts an episode).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np

from dexndm.sim.config import EnvConfig
from dexndm.sim.env import RotationEnv


class RotationGymEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, cfg: EnvConfig | None = None, render_mode: str | None = None):
        self.cfg = dataclasses.replace(cfg or EnvConfig(), num_envs=1)
        self._env: RotationEnv | None = None
        self.render_mode = render_mode
        self._renderer = None
        dims = (self.cfg.history * 32 + 7, self.cfg.history * 32 + 7 + 81)
        self.observation_space = gym.spaces.Dict(
            {
                "proprio": gym.spaces.Box(-np.inf, np.inf, (dims[0],), np.float32),
                "privileged": gym.spaces.Box(-np.inf, np.inf, (dims[1],), np.float32),
            }
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (16,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        if self._env is None or seed is not None:
            cfg = self.cfg if seed is None else dataclasses.replace(self.cfg, seed=seed)
            self._env = RotationEnv(cfg)
            self._env.autoreset = False
        else:
            self._env._reset_envs(np.array([0]))
        return self._single(self._env.observations()), {}

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict[str, Any]]:
        assert self._env is not None, "call reset() first"
        env = self._env
        obs, reward, term, trunc, info = env.step(np.asarray(action, dtype=np.float64)[None])
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
