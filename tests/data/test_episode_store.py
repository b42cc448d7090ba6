"""EpisodeStore: round trip, resume keys, schema checks, reading helpers, drop, locking."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dexndm.data import (
    SCHEMA_VERSION,
    DuplicateEpisodeError,
    EpisodeStore,
    Schema,
    SchemaError,
    StoreError,
    StoreLockedError,
)


def test_round_trip_several_episodes(tmp_path, schema, make_episode):
    root = tmp_path / "store"
    with EpisodeStore.create(root, schema, command=["dexndm", "collect"], config={"noise": 1}) as store:
        written = {}
        for i, steps in enumerate([50, 50, 30]):
            key = f"wrist=palm_up/source=ep{i}/noise=1/seed=0"
            arrays = make_episode(key, steps)
            assert store.append(arrays, {"key": key, "wrist": "palm_up", "axis": (0, 0, 1)}) == i
            written[i] = arrays

    store = EpisodeStore(root, schema=schema)
    assert len(store) == 3
    assert store.episode_indices() == [0, 1, 2]
    for i, arrays in written.items():
        loaded = store.load(i)
        assert loaded.keys() == arrays.keys()
        for name in arrays:
            np.testing.assert_array_equal(loaded[name], arrays[name])
            assert loaded[name].dtype == arrays[name].dtype
    # Meta comes back as JSON values (tuple -> list), the same before and after reopening.
    assert store.meta(0)["axis"] == [0, 0, 1]
    assert [ep.index for ep in store] == [0, 1, 2]
    assert store.record(2).steps == 30
    producer = store.dataset_meta["producer"]
    assert producer["command"] == "dexndm collect"
    assert producer["config"] == {"noise": 1}
    assert producer["versions"]["numpy"] == np.__version__
    assert store.dataset_meta["schema_version"] == SCHEMA_VERSION


def test_duplicate_key_refused_and_resume_skips(filled_store, make_episode):
    store = EpisodeStore(filled_store.root)
    assert store.has("k3") and not store.has("k9")
    with pytest.raises(DuplicateEpisodeError, match="'k3' is already committed as episode 3"):
        store.append(make_episode("k3"), {"key": "k3"})
    assert len(store) == 5
    with pytest.raises(ValueError, match="'key'"):
        store.append(make_episode("x"), {"wrist": "palm_up"})


def test_append_schema_mismatch_names_the_field(tmp_path, schema, make_episode):
    store = EpisodeStore.create(tmp_path / "s", schema)
    bad = make_episode("a")
    bad["joint_vel"] = bad["joint_vel"].astype(np.float64)
    with pytest.raises(SchemaError, match="'joint_vel': dtype float64 but the schema says float32"):
        store.append(bad, {"key": "a"})
    bad = make_episode("a")
    bad["motor_current"] = bad["motor_current"][:, :15]
    with pytest.raises(SchemaError, match="'motor_current': shape"):
        store.append(bad, {"key": "a"})
    bad = make_episode("a")
    bad["time"] = bad["time"][:-1]
    with pytest.raises(SchemaError, match="'time' has 49 steps"):
        store.append(bad, {"key": "a"})
    bad = make_episode("a")
    del bad["joint_targets"]
    with pytest.raises(SchemaError, match="missing field.*joint_targets"):
        store.append(bad, {"key": "a"})
    assert len(store) == 0 and not store.has("a")
    assert list((store.root / "episodes").iterdir()) == []


def test_open_with_other_schema_or_version_refused(filled_store, schema):
    other = Schema({**{n: (s.shape, s.dtype) for n, s in schema.items()}, "joint_pos": ((16,), "float64")})
    with pytest.raises(
        SchemaError, match="field 'joint_pos': store has \\(16,\\) float32, requested \\(16,\\) float64"
    ):
        EpisodeStore(filled_store.root, schema=other)
    fewer = Schema({n: (s.shape, s.dtype) for n, s in schema.items() if n != "motor_current"})
    with pytest.raises(SchemaError, match="'motor_current' is in the store"):
        EpisodeStore.create(filled_store.root, fewer, exist_ok=True)
    with pytest.raises(StoreError, match="already exists"):
        EpisodeStore.create(filled_store.root, schema)

    meta_path = filled_store.root / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["schema_version"] = SCHEMA_VERSION + 1
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(
        StoreError, match=f"schema version {SCHEMA_VERSION + 1}.*reads version {SCHEMA_VERSION}"
    ):
        EpisodeStore(filled_store.root)
    with pytest.raises(StoreError, match="no episode store"):
        EpisodeStore(filled_store.root / "nope")


def test_select_and_stack(filled_store, make_episode):
    store = EpisodeStore(filled_store.root)
    assert store.select(wrist="palm_up") == [0, 2, 4]
    assert store.select(wrist="palm_up", noise=lambda n: n >= 2) == [2, 4]
    assert store.select(missing_key=1) == []
    batch = store.stack(["joint_pos", "time"], store.select(wrist="palm_down"))
    assert batch["joint_pos"].shape == (2, 50, 16) and batch["joint_pos"].dtype == np.float32
    assert batch["time"].shape == (2, 50)
    np.testing.assert_array_equal(batch["joint_pos"][1], make_episode("k3")["joint_pos"])
    assert store.stack("joint_vel")["joint_vel"].shape == (5, 50, 16)

    with EpisodeStore(filled_store.root) as writer:
        writer.append(make_episode("short", 20), {"key": "short"})
    store.refresh()
    with pytest.raises(
        ValueError, match="equal-length.*20 steps: episodes 5.*50 steps: episodes 0, 1, 2, 3, 4"
    ):
        store.stack(["joint_pos"])


def test_drop_is_a_tombstone_and_frees_the_key(filled_store, make_episode):
    with EpisodeStore(filled_store.root) as store:
        store.drop(1, "operator bumped the hand")
        assert store.episode_indices() == [0, 2, 3, 4] and not store.has("k1")
        with pytest.raises(KeyError, match="episode 1 .* was dropped \\(operator bumped the hand\\)"):
            store.load(1)
        # Re-collecting the dropped key gets a fresh index; dropped indices are never reused.
        assert store.append(make_episode("k1"), {"key": "k1"}) == 5
    lines = (filled_store.root / "manifest.jsonl").read_text().splitlines()
    tombstone = json.loads(lines[5])
    assert (tombstone["op"], tombstone["index"], tombstone["reason"]) == (
        "drop",
        1,
        "operator bumped the hand",
    )
    reopened = EpisodeStore(filled_store.root)
    assert reopened.episode_indices() == [0, 2, 3, 4, 5]
    assert reopened.dropped_indices() == [1]
    assert reopened.index_of("k1") == 5
    assert (filled_store.root / "episodes/ep_000001.npz").exists()  # append-only: nothing deleted
    assert reopened.verify().ok


def test_one_writer_at_a_time(filled_store, make_episode):
    a = EpisodeStore(filled_store.root)
    b = EpisodeStore(filled_store.root)
    a.append(make_episode("a"), {"key": "a"})
    with pytest.raises(StoreLockedError, match="another process .* is writing"):
        b.append(make_episode("b"), {"key": "b"})
    a.close()
    # b takes the lock, re-reads the manifest and so continues after a's episode.
    assert b.append(make_episode("b"), {"key": "b"}) == 6
    b.close()
    with pytest.raises(StoreError, match="readonly"):
        EpisodeStore(filled_store.root, readonly=True).append(make_episode("c"), {"key": "c"})
