"""benchmarks/task_data_store.py: the base's task episodes on a reality, stored so that the
dynamics trainers and `dexndm demo --real-data` read every step of them."""

from __future__ import annotations

import numpy as np
import pytest
import task_data_store as tds

from dexndm.data.store import EpisodeStore
from dexndm.dynamics.datasets import load_episode_arrays
from dexndm.hand.constants import NUM_JOINTS


def test_pieces_stack_whole_and_a_rerun_only_adds(tmp_path, capsys):
    args = tds.Args(
        reality="mild", episodes=2, episode_steps=50, segment=20, grasp_candidates=32,
        grasp_cache_dir=tmp_path / "grasps", out=tmp_path / "store",
    )  # fmt: skip
    tds.main(args)
    store = EpisodeStore(args.out, readonly=True)
    keys = [store.record(i).key for i in store.episode_indices()]
    assert keys and all(k.startswith("task/palm_up/00000") for k in keys)
    # every piece has the segment's length, so the trainers stack them all without cutting any
    arrays = load_episode_arrays(args.out, ("joint_pos", "joint_targets", "motor_current", "time"))
    assert arrays["joint_pos"].shape == (len(keys), 20, NUM_JOINTS)
    assert np.all(arrays["time"][:, 0] == 0) and np.all(np.diff(arrays["time"], axis=1) > 0)
    # the targets are the policy's, not a copy of the positions, and currents are in mA
    assert np.abs(arrays["joint_targets"] - arrays["joint_pos"]).max() > 1e-3
    assert np.abs(arrays["motor_current"]).max() > 1.0
    # a rerun keeps what is stored; a second range records other episodes beside them
    tds.main(args)
    assert len(EpisodeStore(args.out, readonly=True)) == len(keys)
    tds.main(tds.Args(**{**vars(args), "first_episode": 100, "episodes": 1}))
    again = EpisodeStore(args.out, readonly=True)
    new = {again.record(i).key for i in again.episode_indices()} - set(keys)
    assert new and all(k.startswith("task/palm_up/000100/") for k in new)
    assert "0 pieces of 20 steps stored this run" in capsys.readouterr().out
    # another reality into the same store would mix two hands
    with pytest.raises(SystemExit, match=r"reality 'mild' \(now 'harsh'\)"):
        tds.main(tds.Args(**{**vars(args), "reality": "harsh"}))
