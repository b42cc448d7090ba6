"""Shared fixtures: tiny configs so behaviour tests stay fast on 2 cores."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "osmesa")


@pytest.fixture(scope="session")
def grasp_cache(tmp_path_factory):
    """One grasp cache for the whole session: grasps are deterministic per config."""
    return str(tmp_path_factory.mktemp("grasps"))
