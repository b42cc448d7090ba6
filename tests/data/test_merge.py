"""``dexndm data merge``: one store from several, resumable, refusing what cannot be told apart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dexndm.cli import main
from dexndm.data import EpisodeStore, Schema, SchemaError, StoreError
from dexndm.data.merge import merge_stores, merged_key
from dexndm.data.plan import PlanMismatchError
from dexndm.data.store import EpisodeError
from dexndm.dynamics.datasets import load_episode_arrays

pytestmark = pytest.mark.usefixtures("wide_console")


def _store(root, schema, make_episode, keys, info, steps=50):
    store = EpisodeStore.create(root, schema, command="pytest", info=info)
    for key in keys:
        store.append(make_episode(key, steps=steps), {"key": key, "round": root.name})
    store.close()
    return store


@pytest.fixture
def two_rounds(tmp_path, schema, make_episode):
    """Two rounds of real episodes recorded with the same key scheme (so their keys collide)."""

    def info(policy: str) -> dict:
        return {"source": "real", "hand": "sim", "policy": policy, "plan": {"base": policy}}

    a = _store(tmp_path / "round0", schema, make_episode, ["ep0", "ep1", "ep2"], info("base.pt"))
    b = _store(tmp_path / "round1", schema, make_episode, ["ep0", "ep1"], info("res.onnx"), steps=60)
    return a.root, b.root


def test_merge_keeps_every_episode_and_says_where_it_came_from(two_rounds, tmp_path, make_episode):
    out = tmp_path / "all"
    report = merge_stores(out, two_rounds, command="pytest")
    assert report.copied == [3, 2] and report.present == [0, 0] and report.total == 5
    assert report.differing_info == ["plan", "policy"]

    merged = EpisodeStore(out, readonly=True)
    assert len(merged) == 5
    for number, root in enumerate(two_rounds):
        source = EpisodeStore(root, readonly=True)
        for index in source.episode_indices():
            key = source.meta(index)["key"]
            meta = merged.meta(merged.index_of(merged_key(number, key)))
            assert meta["merged_from"] == number and meta["merged_index"] == index
            assert meta["round"] == root.name
            got = merged.load(merged.index_of(merged_key(number, key)))
            for name, want in source.load(index).items():
                np.testing.assert_array_equal(got[name], want)
    info = merged.dataset_meta["info"]
    # What all sources agree on stays readable where trainers look (e.g. source == "real");
    # what they disagree on stays per source only.
    assert info["source"] == "real" and info["hand"] == "sim" and "policy" not in info
    assert [m["info"]["policy"] for m in info["merged_from"]] == ["base.pt", "res.onnx"]
    assert info["plan"] == {"merge": [str(p.resolve()) for p in two_rounds]}

    # A trainer reads the merged store like any other: the rounds' episodes, cut to one length,
    # and the report says how much that leaves out (2 x 10 of 270 steps).
    arrays = load_episode_arrays(out, ("joint_pos",))
    assert arrays["joint_pos"].shape == (5, 50, 16)
    assert report.lengths == {50: 3, 60: 2} and report.unused_steps == pytest.approx(20 / 270)


def test_rerun_copies_only_new_episodes_and_refuses_other_sources(two_rounds, tmp_path, schema, make_episode):
    out = tmp_path / "all"
    merge_stores(out, two_rounds)
    with EpisodeStore(two_rounds[1]) as source:  # the round's collector went on
        source.append(make_episode("ep2", steps=60), {"key": "ep2"})
    report = merge_stores(out, two_rounds)
    assert report.copied == [0, 1] and report.present == [3, 2]
    assert len(EpisodeStore(out, readonly=True)) == 6

    with pytest.raises(PlanMismatchError, match="same order"):
        merge_stores(out, list(reversed(two_rounds)))
    other = _store(tmp_path / "round2", schema, make_episode, ["ep0"], {"source": "real", "hand": "sim"})
    with pytest.raises(PlanMismatchError, match="merge: store"):
        merge_stores(out, [*two_rounds, other.root])
    assert len(EpisodeStore(out, readonly=True)) == 6


def test_refuses_sources_that_cannot_be_merged(two_rounds, tmp_path, schema, make_episode):
    sim = _store(tmp_path / "sim", schema, make_episode, ["ep0"], {"source": "sim"})
    with pytest.raises(ValueError, match="differ in source"):
        merge_stores(tmp_path / "x", [two_rounds[0], sim.root])
    leap = _store(tmp_path / "leap", schema, make_episode, ["ep0"], {"source": "real", "hand": "leap"})
    with pytest.raises(ValueError, match="differ in hand"):
        merge_stores(tmp_path / "x", [two_rounds[0], leap.root])

    narrow = Schema.from_json({k: v for k, v in schema.to_json().items() if k != "motor_current"})
    other = EpisodeStore.create(tmp_path / "narrow", narrow, info={"source": "real"})
    other.close()
    with pytest.raises(SchemaError, match="motor_current"):
        merge_stores(tmp_path / "x", [two_rounds[0], other.root])

    with pytest.raises(ValueError, match="more than once"):
        merge_stores(tmp_path / "x", [two_rounds[0], two_rounds[0]])
    with pytest.raises(ValueError, match="also a source"):
        merge_stores(two_rounds[1], two_rounds)
    with pytest.raises(StoreError, match="no episode store"):
        merge_stores(tmp_path / "x", [tmp_path / "missing"])
    assert not (tmp_path / "x").exists()


def test_a_damaged_episode_is_not_copied_and_a_rerun_resumes(two_rounds, tmp_path):
    path = two_rounds[0] / "episodes/ep_000001.npz"
    good = path.read_bytes()
    path.write_bytes(good[:100])
    out = tmp_path / "all"
    with pytest.raises(EpisodeError, match="ep_000001.npz.*truncated"):
        merge_stores(out, two_rounds)
    merged = EpisodeStore(out, readonly=True)
    assert [merged.meta(i)["key"] for i in merged.episode_indices()] == ["src0/ep0"]

    path.write_bytes(good)  # e.g. restored from a backup
    report = merge_stores(out, two_rounds)
    assert report.present == [1, 0] and report.copied == [2, 2]


def test_command_line(two_rounds, tmp_path, capsys):
    out = tmp_path / "all"
    assert main(["data", "merge", str(out), *map(str, two_rounds)]) == 0
    text = capsys.readouterr().out
    assert "src0" in text and "3 copied" in text and "5 episodes" in text and "policy" in text
    assert "different lengths" in text and "7%" in text
    assert main(["data", "merge", str(out), *map(str, two_rounds)]) == 0
    assert "2 already merged" in capsys.readouterr().out
    assert main(["data", "merge", str(out), str(two_rounds[1])]) == 2
    assert "error" in capsys.readouterr().out
    assert json.loads((out / "meta.json").read_text())["info"]["source"] == "real"
