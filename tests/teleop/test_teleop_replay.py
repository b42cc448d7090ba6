"""`dexndm view`'s recordings: stored episodes and evaluations simulated again."""

from __future__ import annotations

import numpy as np
import pytest

from dexndm.data import EpisodeStore, Schema, real_episode_schema
from dexndm.eval.evaluate import evaluate
from dexndm.eval.policies import RandomPolicy
from dexndm.hand import constants as C
from dexndm.sim.grasp import GraspConfig
from dexndm.sim.rotations import quat_from_axis_angle
from dexndm.teleop.replay import Replay, evaluation_replay, load_replay

STEPS = 12


def joint_arrays(steps: int) -> dict[str, np.ndarray]:
    q = (C.DEFAULT_POSE + 0.1 * np.sin(np.arange(steps))[:, None]).astype(np.float32)
    zeros = np.zeros_like(q)
    return {"joint_pos": q, "joint_vel": zeros, "motor_current": zeros, "joint_targets": q,
            "time": np.arange(steps) * 0.05}  # fmt: skip


def test_a_real_hand_episode_replays_joints_without_an_object(tmp_path):
    store = EpisodeStore.create(tmp_path / "store", real_episode_schema(), command="test")
    store.append(joint_arrays(STEPS), {"key": "a", "wrist": "palm_down"})
    store.append(joint_arrays(STEPS + 3), {"key": "b", "wrist": [0.0, 1.0, 0.0, 0.0]})
    replay = load_replay(tmp_path / "store", episode=1)
    frames = replay.frames()
    assert frames["count"] == STEPS + 3 and len(frames["poses"]) == STEPS + 3
    assert frames["object_known"] is False and frames["turned_rad"] is None
    assert frames["dt"] == pytest.approx(0.05)
    np.testing.assert_allclose(replay.wrist_quat, [0, 1, 0, 0])
    bodies = len(replay.geometry()["bodies"])
    assert len(frames["poses"][0]) == 7 * bodies
    # the fingers move between frames, as recorded
    assert not np.allclose(frames["poses"][0], frames["poses"][1])


def test_a_recorded_object_trajectory_gives_the_angle_turned(tmp_path):
    schema = Schema(
        {**real_episode_schema(), "object_pos": ((3,), "float64"), "object_quat": ((4,), "float64")}
    )
    store = EpisodeStore.create(tmp_path / "store", schema, command="test")
    angles = np.linspace(0.0, 1.5, STEPS)  # 1.5 rad about +y over the episode
    arrays = joint_arrays(STEPS)
    arrays["object_pos"] = np.tile([0.0, 0.0, 0.5], (STEPS, 1))
    arrays["object_quat"] = quat_from_axis_angle(np.tile([0.0, 1.0, 0.0], (STEPS, 1)), angles)
    store.append(arrays, {"key": "turn", "wrist": "palm_up", "axis": "+y", "object": "cube"})
    frames = load_replay(tmp_path / "store").frames()
    assert frames["object_known"] is True
    np.testing.assert_allclose(frames["turned_rad"], angles, atol=1e-5)


def test_an_evaluation_episode_is_simulated_again_and_matches_its_record(tmp_path, grasp_cache):
    evaluate(
        RandomPolicy(seed=5), objects=("cube",), wrists=("palm_up",), axes=("-x", "+z"), episodes_per_cell=3,
        num_envs=2, episode_steps=STEPS, grasp=GraspConfig(candidates=32), grasp_cache_dir=grasp_cache,
        nthread=1, out_dir=tmp_path / "eval", progress=False,
    )  # fmt: skip
    # episode 2 is the second episode of env slot 0: the replay must run through the first
    replay = evaluation_replay(tmp_path / "eval", episode=2, grasp_cache_dir=grasp_cache)
    assert replay.notes["matches_record"] is True, replay.notes
    assert replay.notes["recorded_rot"] != 0.0
    assert len(replay.joint_pos) == replay.notes["metrics"]["steps"]
    np.testing.assert_allclose(replay.axis, [-1, 0, 0])
    assert replay.frames()["turned_rad"] is not None
    # the random baseline's generator ran on through cell 0 in the evaluation: a fresh one
    # cannot reproduce cell 1, and the replay says so instead of showing it as the record
    assert (
        evaluation_replay(tmp_path / "eval", cell=1, grasp_cache_dir=grasp_cache).notes["matches_record"]
        is False
    )


def test_bad_sources_get_clear_errors(tmp_path, grasp_cache):
    with pytest.raises(FileNotFoundError, match="neither an episode store"):
        load_replay(tmp_path)
    with pytest.raises(ValueError, match="NaN"):
        Replay("x", "cube", np.array([1.0, 0, 0, 0]), np.full((3, 16), np.nan))
    with pytest.raises(ValueError, match="both or neither"):
        Replay("x", "cube", np.array([1.0, 0, 0, 0]), np.zeros((3, 16)), object_pos=np.zeros((3, 3)))
    store = EpisodeStore.create(tmp_path / "empty", real_episode_schema(), command="test")
    del store
    with pytest.raises(ValueError, match="no episodes"):
        load_replay(tmp_path / "empty")
