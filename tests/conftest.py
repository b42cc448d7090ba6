"""Shared fixtures: tiny configs so behaviour tests stay fast on 2 cores."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "osmesa")


@pytest.fixture(scope="session")
def grasp_cache(tmp_path_factory):
    """One grasp cache for the whole session: grasps are deterministic per config."""
    return str(tmp_path_factory.mktemp("grasps"))


@pytest.fixture
def wide_console(monkeypatch):
    """Rich wraps table cells and messages to the terminal width: keep them on one line for the
    asserts of CLI tests (``pytestmark = pytest.mark.usefixtures("wide_console")``)."""
    monkeypatch.setenv("COLUMNS", "250")


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Run each test on one torch thread.

    The tests use tiny tensors, where a second thread gains little; and on a shared 2-core
    machine, torch's OpenMP threads spin-wait against other jobs and can slow tiny ops by 10-50x.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
