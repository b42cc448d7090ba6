"""Shared synthetic data for the dynamics tests: a hand with known per-joint dynamics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dexndm.dynamics.synthetic import random_hand_params, simulate_hand, smooth_targets
from dexndm.dynamics.windows import EpisodeWindows, split_windows

WINDOW = 10


@pytest.fixture(scope="session")
def hand_episodes() -> tuple[np.ndarray, np.ndarray]:
    """``(joint_pos, joint_targets)``, each ``(30, 150, 16)`` rad, from independent joints."""
    params = random_hand_params(seed=0)
    targets = smooth_targets(seed=1, num_episodes=30, num_steps=150)
    return simulate_hand(params, targets), targets


@pytest.fixture(scope="session")
def hand_split(hand_episodes) -> tuple[EpisodeWindows, EpisodeWindows]:
    """9:1 train/eval windows of :func:`hand_episodes`."""
    return split_windows(*hand_episodes, window=WINDOW, seed=0)


@pytest.fixture
def random_history() -> tuple[torch.Tensor, torch.Tensor]:
    """A small random batch ``(q_hist, a_hist)``, each ``(5, W, 16)`` rad."""
    gen = torch.Generator().manual_seed(0)
    q = 0.5 + 0.3 * torch.randn(5, WINDOW, 16, generator=gen)
    return q, q + 0.1 * torch.randn(5, WINDOW, 16, generator=gen)
