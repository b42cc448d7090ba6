"""Windowed samples: correct alignment, no episode crossing, no copies, deterministic 9:1 split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dexndm.dynamics.windows import EpisodeWindows, split_episode_indices, split_windows


def _arange_episodes(num_episodes: int = 4, num_steps: int = 12, num_joints: int = 3):
    """Arrays whose value encodes (episode, step, joint), so a window says where it came from."""
    e, t, j = np.meshgrid(np.arange(num_episodes), np.arange(num_steps), np.arange(num_joints), indexing="ij")
    q = (1000 * e + 10 * t + j).astype(np.float32)
    return q, q + 0.5


@pytest.mark.parametrize("horizon", [1, 3])
def test_gather_aligns_history_targets_and_future(horizon):
    q, a = _arange_episodes()
    data = EpisodeWindows.from_arrays(q, a, window=4, horizon=horizon, episodes=[1, 3])
    assert data.windows_per_episode == 12 - 4 - horizon + 1
    assert len(data) == 2 * data.windows_per_episode
    # Flat index -> (episode, start) by episode then time; the window ends at t = start + W - 1.
    index = torch.arange(len(data))
    batch = data.gather(index)
    assert batch.q_hist.shape == (len(data), 4, 3)
    assert batch.a_seq.shape == (len(data), 4 + horizon - 1, 3)
    assert batch.q_future.shape == (len(data), horizon, 3)
    for i in index.tolist():
        episode = [1, 3][i // data.windows_per_episode]
        t = i % data.windows_per_episode + 3
        np.testing.assert_array_equal(batch.q_hist[i].numpy(), q[episode, t - 3 : t + 1])
        np.testing.assert_array_equal(batch.a_seq[i].numpy(), a[episode, t - 3 : t + horizon])
        np.testing.assert_array_equal(batch.q_future[i].numpy(), q[episode, t + 1 : t + 1 + horizon])
    np.testing.assert_array_equal(batch.a_hist.numpy(), batch.a_seq[:, :4].numpy())


def test_windows_share_the_episode_arrays():
    q, a = _arange_episodes()
    train, evaluation = split_windows(q, a, window=4, horizon=2, seed=0)
    # float32 numpy arrays are wrapped, not copied; splits and horizons share them too.
    assert train.joint_pos.data_ptr() == torch.from_numpy(q).data_ptr()
    assert evaluation.joint_pos.data_ptr() == train.joint_pos.data_ptr()
    assert train.with_horizon(5).joint_targets.data_ptr() == train.joint_targets.data_ptr()


def test_split_is_deterministic_disjoint_and_nine_to_one():
    train, evaluation = split_episode_indices(100, eval_fraction=0.1, seed=3)
    assert len(train) == 90 and len(evaluation) == 10
    assert set(train).isdisjoint(evaluation) and set(train) | set(evaluation) == set(range(100))
    again = split_episode_indices(100, eval_fraction=0.1, seed=3)
    np.testing.assert_array_equal(train, again[0])
    assert not np.array_equal(evaluation, split_episode_indices(100, eval_fraction=0.1, seed=4)[1])
    # Even tiny sets keep one eval episode.
    assert len(split_episode_indices(3, 0.1, 0)[1]) == 1


def test_evenly_spaced_is_deterministic_and_bounded():
    q, a = _arange_episodes(num_episodes=10, num_steps=50)
    data = EpisodeWindows.from_arrays(q, a, window=4)
    index = data.evenly_spaced(7)
    assert len(index) == 7 and index[0] == 0 and index[-1] == len(data) - 1
    assert torch.equal(data.evenly_spaced(None), torch.arange(len(data)))


def test_bad_inputs_are_refused():
    q, a = _arange_episodes(num_steps=5)
    with pytest.raises(ValueError, match="too short"):
        EpisodeWindows.from_arrays(q, a, window=4, horizon=2)
    with pytest.raises(ValueError, match="must both be"):
        EpisodeWindows.from_arrays(q, a[:, :-1], window=2)
