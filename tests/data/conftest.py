"""Fixtures for the episode-store tests: a schema and deterministic episodes per key."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from dexndm.data import EpisodeStore, Schema, real_episode_schema

# Shared with the crash tests' child processes (which cannot import this conftest), so the parent
# can check that every committed episode holds exactly the data its key stands for.
MAKE_EPISODE_SRC = """
import hashlib
import numpy as np

def make_episode(key, steps=50):
    seed = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    arrays = {
        name: rng.standard_normal((steps, 16)).astype(np.float32)
        for name in ("joint_pos", "joint_vel", "motor_current", "joint_targets")
    }
    arrays["time"] = np.arange(steps, dtype=np.float64) * 0.05
    return arrays
"""
_ns: dict = {}
exec(MAKE_EPISODE_SRC, _ns)
make_episode_for_key: Callable[..., dict[str, np.ndarray]] = _ns["make_episode"]


@pytest.fixture
def schema() -> Schema:
    return real_episode_schema()


@pytest.fixture
def make_episode_src() -> str:
    """Python source defining ``make_episode(key, steps=50)``, for child processes."""
    return MAKE_EPISODE_SRC


@pytest.fixture
def make_episode() -> Callable[..., dict[str, np.ndarray]]:
    """``make_episode(key, steps=50)`` -> arrays matching ``real_episode_schema()``, fixed per key."""
    return make_episode_for_key


@pytest.fixture
def filled_store(tmp_path, schema) -> EpisodeStore:
    """A store with 5 episodes: keys ``k0..k4``, wrist alternating palm_up/palm_down."""
    store = EpisodeStore.create(tmp_path / "store", schema, command="pytest", config={"n": 5})
    for i in range(5):
        wrist = "palm_up" if i % 2 == 0 else "palm_down"
        store.append(make_episode_for_key(f"k{i}"), {"key": f"k{i}", "wrist": wrist, "noise": i})
    store.close()
    return store
