"""rsl_rl's VecEnv face of :class:`RotationEnv` (torch tensors, TensorDict observation groups).

Observation groups: ``proprio`` (the generalist's / actor's input) and ``privileged`` (the
specialist's actor and critic). Autoreset is same-step, and ``extras["time_outs"]`` marks the
envs that hit the 400-step limit (rsl_rl bootstraps their value).
"""

from __future__ import annotations

import numpy as np
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from dexndm.sim.config import EnvConfig
from dexndm.sim.env import RotationEnv


class RslRlRotationEnv(VecEnv):
    def __init__(self, cfg: EnvConfig, device: str = "cpu"):
        self.env = RotationEnv(cfg)
        self.cfg = cfg
        self.device = device
        self.num_envs = cfg.num_envs
        self.num_actions = self.env.num_actions
        self.max_episode_length = cfg.episode_steps
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long, device=device)
        self._obs = self.env.observations()

    def _td(self, obs: dict[str, np.ndarray]) -> TensorDict:
        return TensorDict(
            {k: torch.as_tensor(v, device=self.device) for k, v in obs.items()}, batch_size=[self.num_envs]
        )

    def get_observations(self) -> TensorDict:
        return self._td(self._obs)

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        obs, reward, terminated, truncated, info = self.env.step(actions.detach().cpu().numpy())
        self._obs = obs
        self.episode_length_buf = torch.as_tensor(self.env.step_count, device=self.device)
        dones = torch.as_tensor(terminated | truncated, device=self.device)
        extras: dict = {"time_outs": torch.as_tensor(truncated, device=self.device)}
        log = {f"/reward/{k}": float(np.mean(v)) for k, v in info["reward_terms"].items()}
        if "final_metrics" in info:
            for k, v in info["final_metrics"].items():
                log[f"/episode/{k}"] = float(np.mean(v))
            # per-episode arrays, so a trainer can average over all episodes of an iteration
            extras["final_metrics"] = info["final_metrics"]
        extras["log"] = log
        return self._td(obs), torch.as_tensor(reward, dtype=torch.float32, device=self.device), dones, extras

    def close(self) -> None:
        self.env.close()
