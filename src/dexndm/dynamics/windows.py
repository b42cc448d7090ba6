"""Windowed training samples from episode arrays, without copying the episodes.

Episodes come as ``joint_pos (E, T, J)`` and ``joint_targets (E, T, J)`` (rad, sim joint order),
where ``joint_targets[:, t]`` is the target applied during step ``t``, which produces
``joint_pos[:, t + 1]``. A sample ending at time ``t`` with history W and horizon K holds

- ``q_hist``   = ``q_{t-W+1..t}``     ``(W, J)``,
- ``a_seq``    = ``a_{t-W+1..t+K-1}`` ``(W + K - 1, J)`` (history targets, then the K - 1 later ones),
- ``q_future`` = ``q_{t+1..t+K}``     ``(K, J)``,

which is exactly what :meth:`DynamicsModel.rollout` takes and returns. Windows never cross an
episode boundary, so each episode gives ``T - W - K + 1`` samples. A sample is addressed by a flat
index; :meth:`EpisodeWindows.gather` turns a batch of indices into tensors with index arithmetic,
so only the batch is ever materialised.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class WindowBatch:
    """A batch of windows (see the module docstring); all in rad."""

    q_hist: Tensor
    """``(B, W, J)``"""
    a_seq: Tensor
    """``(B, W + K - 1, J)``"""
    q_future: Tensor
    """``(B, K, J)``"""

    @property
    def a_hist(self) -> Tensor:
        """``(B, W, J)`` the targets of the history window, for a one-step ``model(q_hist, a_hist)``."""
        return self.a_seq[:, : self.q_hist.shape[1], :]

    def to(self, device: torch.device | str) -> WindowBatch:
        return WindowBatch(self.q_hist.to(device), self.a_seq.to(device), self.q_future.to(device))


@dataclass(frozen=True, eq=False)  # eq=False: tensors do not compare to a bool
class EpisodeWindows:
    """All windows of history ``window`` and horizon ``horizon`` in a subset of episodes.

    ``joint_pos`` / ``joint_targets`` are the full ``(E, T, J)`` arrays (shared, never copied);
    ``episodes`` ``(E',)`` lists the episodes that belong to this set (e.g. the train split).
    """

    joint_pos: Tensor
    joint_targets: Tensor
    episodes: Tensor
    window: int
    horizon: int = 1

    def __post_init__(self) -> None:
        if self.joint_pos.dim() != 3 or self.joint_pos.shape != self.joint_targets.shape:
            raise ValueError(
                "joint_pos and joint_targets must both be (E, T, J), got "
                f"{tuple(self.joint_pos.shape)} and {tuple(self.joint_targets.shape)}"
            )
        if self.window < 1 or self.horizon < 1:
            raise ValueError(f"window and horizon must be >= 1, got {self.window} and {self.horizon}")
        if self.windows_per_episode < 1:
            raise ValueError(
                f"episodes of {self.joint_pos.shape[1]} steps are too short for window {self.window} "
                f"+ horizon {self.horizon}"
            )

    @classmethod
    def from_arrays(
        cls,
        joint_pos: np.ndarray | Tensor,
        joint_targets: np.ndarray | Tensor,
        window: int,
        horizon: int = 1,
        episodes: np.ndarray | Tensor | None = None,
    ) -> EpisodeWindows:
        """Wrap arrays (float32 tensors or arrays are used in place; others are converted once)."""
        q = torch.as_tensor(joint_pos, dtype=torch.float32)
        a = torch.as_tensor(joint_targets, dtype=torch.float32)
        eps = torch.arange(q.shape[0]) if episodes is None else torch.as_tensor(episodes, dtype=torch.long)
        return cls(q, a, eps, window, horizon)

    @property
    def num_joints(self) -> int:
        return int(self.joint_pos.shape[2])

    @property
    def num_episodes(self) -> int:
        return int(self.episodes.shape[0])

    @property
    def windows_per_episode(self) -> int:
        return int(self.joint_pos.shape[1]) - self.window - self.horizon + 1

    def __len__(self) -> int:
        return self.num_episodes * self.windows_per_episode

    def with_horizon(self, horizon: int) -> EpisodeWindows:
        """The same episodes, windowed for another horizon (shares the arrays)."""
        return replace(self, horizon=horizon)

    def locate(self, index: Tensor) -> tuple[Tensor, Tensor]:
        """Where the windows with flat indices ``index`` ``(B,)`` lie: ``(episode (B,), time (B, W + K))``,
        the episode row of the ``(E, T, J)`` arrays and the steps ``t-W+1 .. t+K`` of each window.

        Per-step arrays stored beside the episodes (e.g. observations ``(E, T, D)``) are gathered
        for the same windows with ``array[episode[:, None], time]``.
        """
        index = torch.as_tensor(index, dtype=torch.long)
        episode = self.episodes[torch.div(index, self.windows_per_episode, rounding_mode="floor")]
        start = torch.remainder(index, self.windows_per_episode)
        return episode, start[:, None] + torch.arange(self.window + self.horizon)

    def gather(self, index: Tensor) -> WindowBatch:
        """Materialise the windows with flat indices ``index`` ``(B,)`` in ``[0, len(self))``."""
        episode, time = self.locate(index)  # (B,), (B, W + K)
        q = self.joint_pos[episode[:, None], time]  # (B, W + K, J)
        a = self.joint_targets[episode[:, None], time[:, :-1]]  # (B, W + K - 1, J)
        return WindowBatch(q[:, : self.window], a, q[:, self.window :])

    def evenly_spaced(self, max_windows: int | None) -> Tensor:
        """Deterministic flat indices covering the set evenly: all of them if ``max_windows`` is
        None or at least ``len(self)``. Used for evaluation, so it never touches an RNG."""
        n = len(self)
        if max_windows is None or max_windows >= n:
            return torch.arange(n)
        return torch.linspace(0, n - 1, max_windows).round().long()


def split_episode_indices(
    num_episodes: int, eval_fraction: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train/eval split of episode indices (the paper: 9:1).

    Returns ``(train, eval)`` sorted index arrays. At least one eval episode when there are two or
    more episodes; the split depends only on ``num_episodes``, ``eval_fraction`` and ``seed``.
    """
    if not 0.0 <= eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    perm = np.random.default_rng(seed).permutation(num_episodes)
    num_eval = round(eval_fraction * num_episodes)
    if eval_fraction > 0 and num_episodes >= 2:
        num_eval = max(num_eval, 1)
    return np.sort(perm[num_eval:]), np.sort(perm[:num_eval])


def split_windows(
    joint_pos: np.ndarray | Tensor,
    joint_targets: np.ndarray | Tensor,
    window: int,
    horizon: int = 1,
    eval_fraction: float = 0.1,
    seed: int = 0,
) -> tuple[EpisodeWindows, EpisodeWindows]:
    """Split episodes ``(E, T, J)`` into train and eval window sets sharing the same arrays."""
    train_eps, eval_eps = split_episode_indices(int(joint_pos.shape[0]), eval_fraction, seed)
    train = EpisodeWindows.from_arrays(joint_pos, joint_targets, window, horizon, train_eps)
    return train, replace(train, episodes=torch.as_tensor(eval_eps, dtype=torch.long))
