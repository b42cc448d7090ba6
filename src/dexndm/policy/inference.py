"""Run trained policies: a checkpoint file -> an object with ``act(obs) -> actions``.

Registered with :func:`dexndm.eval.policies.register_policy_loader` for ``.pt`` files, so
``dexndm eval --policy runs/specialist/normal_cylinder/latest.pt`` works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from rsl_rl.models import MLPModel
from tensordict import TensorDict

from dexndm.hand import constants as C
from dexndm.policy.checkpoint import PolicyCheckpointError, load_policy_checkpoint
from dexndm.policy.config import SpecialistConfig


def specialist_actor(payload: dict[str, Any]) -> MLPModel:
    """The specialist's actor network, rebuilt from a checkpoint payload (eval mode)."""
    cfg = SpecialistConfig.from_dict(payload["config"])
    group, dim = payload["obs_group"], int(payload["obs_dim"])
    dummy = TensorDict({group: torch.zeros(1, dim)}, batch_size=[1])
    actor = MLPModel(
        dummy, {"actor": [group]}, "actor", C.NUM_JOINTS, hidden_dims=cfg.network.actor_hidden,
        activation=cfg.network.activation, obs_normalization=cfg.network.obs_normalization,
        distribution_cfg={"class_name": "GaussianDistribution", "init_std": cfg.network.init_std},
    )  # fmt: skip
    actor.load_state_dict(payload["actor_state"])
    actor.eval()
    return actor


class SpecialistPolicy:
    """A PPO specialist acting deterministically (the mean action) on privileged observations."""

    uses_privileged = True

    def __init__(self, payload: dict[str, Any], source: str = ""):
        self.actor = specialist_actor(payload)
        self.obs_dim = int(payload["obs_dim"])
        self.source = source
        self.category = payload["config"]["category"]

    def reset(self, env_ids: np.ndarray) -> None:
        pass

    @torch.no_grad()
    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs["privileged"], dtype=np.float32))
        if x.shape[-1] != self.obs_dim:
            raise ValueError(
                f"{self.source}: the specialist expects {self.obs_dim} privileged inputs, the env gives "
                f"{x.shape[-1]}; it was trained with another observation layout"
            )
        out = self.actor(TensorDict({"privileged": x}, batch_size=[len(x)]))
        return np.clip(out.numpy().astype(np.float64), -1.0, 1.0)

    def __repr__(self) -> str:
        return f"SpecialistPolicy({self.category}, {self.source})"


def load_checkpoint_policy(path: Path, **_: Any) -> Any:
    """``.pt`` loader: a specialist or a generalist checkpoint."""
    payload = load_policy_checkpoint(path)
    if payload["kind"] == "specialist":
        return SpecialistPolicy(payload, str(path))
    if payload["kind"] == "generalist":
        from dexndm.policy.generalist import GeneralistPolicy

        return GeneralistPolicy.from_payload(payload, str(path))
    raise PolicyCheckpointError(f"{path}: unknown policy kind {payload['kind']!r}")


def register() -> None:
    from dexndm.eval.policies import register_policy_loader

    register_policy_loader(".pt", load_checkpoint_policy, replace=False)
    register_policy_loader(".onnx", load_onnx_policy, replace=False)


def load_onnx_policy(path: Path, **_: Any) -> Any:
    from dexndm.policy.export import OnnxPolicy

    return OnnxPolicy(path)
