"""A tiny rotation task shared by the env tests: a cube, palm up and down, principal axes."""

from __future__ import annotations

import pytest

from dexndm.sim.config import EnvConfig
from dexndm.sim.grasp import GraspConfig


@pytest.fixture(scope="session")
def cfg(grasp_cache) -> EnvConfig:
    """6 envs on one thread; 48 grasp candidates per wrist (enough for a dozen stable grasps)."""
    return EnvConfig(
        num_envs=6,
        objects=("cube",),
        wrists=("palm_up", "palm_down"),
        axes=("principal",),
        grasp=GraspConfig(candidates=48),
        grasp_cache_dir=grasp_cache,
        nthread=1,
    )
