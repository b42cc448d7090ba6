"""The ``dexndm data`` verbs: verify (exit code + table), info (counts), drop (tombstone)."""

from __future__ import annotations

import numpy as np
import pytest

from dexndm.data import EpisodeStore
from dexndm.data.cli import data_drop, data_info, data_verify
from dexndm.hand import constants as C

pytestmark = pytest.mark.usefixtures("wide_console")


def test_verify_exit_codes_and_table(filled_store, tmp_path, capsys):
    assert data_verify(filled_store.root) == 0
    assert "5 episodes checked, ok" in capsys.readouterr().out

    path = filled_store.root / "episodes/ep_000002.npz"
    data = bytearray(path.read_bytes())
    data[-5000] ^= 0xFF
    path.write_bytes(bytes(data))
    assert data_verify(filled_store.root) == 1
    out = capsys.readouterr().out
    assert "ep_000002.npz" in out and "checksum mismatch" in out and "1 damaged" in out

    assert data_verify(tmp_path / "no_store") == 2
    assert "no episode store" in capsys.readouterr().out


def test_info_counts_per_meta_value(filled_store, capsys):
    counts = data_info(filled_store.root)
    assert counts["wrist"] == {"palm_up": 3, "palm_down": 2}
    assert counts["noise"] == {"0": 1, "1": 1, "2": 1, "3": 1, "4": 1}
    assert "key" not in counts
    out = capsys.readouterr().out
    assert "5 episodes, 250 steps" in out and "joint_pos" in out and "palm_up" in out


def test_drop_then_verify_ignores_it(filled_store, capsys):
    path = filled_store.root / "episodes/ep_000004.npz"
    path.write_bytes(path.read_bytes()[:100])
    assert data_verify(filled_store.root) == 1

    assert data_drop(filled_store.root, 4) == 0
    assert "dropped episode 4 (key 'k4')" in capsys.readouterr().out
    assert data_verify(filled_store.root) == 0
    store = EpisodeStore(filled_store.root)
    assert store.episode_indices() == [0, 1, 2, 3] and not store.has("k4")

    assert data_drop(filled_store.root, 4) == 2
    assert "was dropped" in capsys.readouterr().out


def test_tyro_command_line_matches_the_fix_hint(filled_store):
    tyro = pytest.importorskip("tyro")
    argv = ["drop", str(filled_store.root), "3", "--reason", "bumped"]
    verbs = {"verify": data_verify, "info": data_info, "drop": data_drop}
    assert tyro.extras.subcommand_cli_from_dict(verbs, args=argv) == 0
    assert EpisodeStore(filled_store.root).dropped_indices() == [3]


def test_verify_names_joint_steps_faster_than_the_motors(tmp_path, schema, make_episode, capsys):
    """A joint that moves more in one tick than a LEAP motor can (an encoder misread, or a contact
    the simulator resolved violently) is named with its joint, but does not fail the store."""
    store = EpisodeStore.create(tmp_path / "store", schema)
    t = np.arange(100) * 0.05
    for i in range(3):
        arrays = make_episode(f"k{i}", steps=100)
        smooth = C.DEFAULT_POSE + 0.2 * np.sin(2.0 * t)[:, None]  # inside every range, <= 0.02 rad a step
        arrays["joint_pos"] = smooth.astype(np.float32)
        if i == 1:
            arrays["joint_pos"][40:44, 14] -= 1.85  # th_mcp knocked off for four steps
        store.append(arrays, {"key": f"k{i}"})
    store.close()
    assert data_verify(store.root) == 0
    out = capsys.readouterr().out
    assert "episode 1: joint th_mcp (14) moves 1.8" in out  # 1.85 plus the sine's own step
    assert "episode 0" not in out and "episode 2" not in out
    assert "3 episodes checked, ok" in out


def test_verify_hands_each_intact_episode_to_the_content_check_once(filled_store):
    """``dexndm data verify`` runs its joint-step check inside the integrity pass: the hook sees
    every intact episode's arrays exactly once and never a damaged one."""
    path = filled_store.root / "episodes/ep_000003.npz"
    path.write_bytes(path.read_bytes()[:-100])  # truncated
    seen: list[int] = []
    report = EpisodeStore(filled_store.root, readonly=True).verify(
        on_intact=lambda index, arrays: seen.append(index) or arrays["joint_pos"].shape
    )
    assert seen == [0, 1, 2, 4]
    assert report.bad_indices == [3]


def test_verify_names_fingers_forced_through_their_stops(tmp_path, schema, make_episode, capsys):
    """A joint recorded far past its range (a simulated finger whose stop gave way) is named with
    its joint; a joint pressed a little past its stop, as contacts do, is not."""
    store = EpisodeStore.create(tmp_path / "store", schema)
    for i in range(3):
        arrays = make_episode(f"k{i}", steps=100)
        q = np.tile(C.DEFAULT_POSE, (100, 1))
        if i == 1:
            q[30:, 0] = np.linspace(C.DEFAULT_POSE[0], C.JOINT_UPPER[0] + 3.0, 70)  # if_mcp through its stop
        if i == 2:
            q[:, 4] = C.JOINT_UPPER[4] + 0.03  # mf_mcp pressed a little past
        arrays["joint_pos"] = q.astype(np.float32)
        store.append(arrays, {"key": f"k{i}"})
    store.close()
    assert data_verify(store.root) == 0
    out = capsys.readouterr().out
    assert "episode 1: joint if_mcp (0) goes 3.00 rad past its stop" in out
    assert "episode 0" not in out and "episode 2" not in out
    assert "moves" not in out  # it got there gradually: no joint step is flagged
