"""Crash safety of `collect`: kill -9 mid-run, rerun, and nothing is lost, duplicated or changed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fakes.hand import FakeHands

from dexndm.collect.collector import collect
from dexndm.collect.config import CollectConfig
from dexndm.data import EpisodeStore, StoreRecoveryWarning

TESTS_DIR = Path(__file__).resolve().parents[1]
CFG = CollectConfig(mode="sine", episodes=6, wrist=("palm_up", "palm_down"), steps=30, settle_s=0.1, seed=3)
CFG_SRC = (
    'CollectConfig(mode="sine", episodes=6, wrist=("palm_up", "palm_down"), steps=30, settle_s=0.1, seed=3)'
)


def _committed(root: Path) -> int:
    path = root / "manifest.jsonl"
    if not path.exists():
        return 0
    return sum(1 for line in path.read_bytes().split(b"\n") if line.endswith(b"}"))


def _episodes(store: EpisodeStore) -> dict[str, dict[str, np.ndarray]]:
    return {store.meta(i)["key"]: store.load(i) for i in store.episode_indices()}


def test_kill_9_then_rerun_collects_every_episode_once(tmp_path):
    out = tmp_path / "store"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS_DIR)!r})
        from fakes.hand import FakeHands
        from dexndm.collect.collector import collect
        from dexndm.collect.config import CollectConfig
        collect({CFG_SRC}, {str(out)!r}, FakeHands(step_delay_s=0.01), progress=False)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while _committed(out) < 4 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert child.poll() is None, f"the collector ended before it could be killed: {child.stderr.read()!r}"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    before = EpisodeStore(out, readonly=True)
    killed_at = len(before)
    assert 4 <= killed_at < 12, "the kill should land mid-collection"
    before_content = _episodes(before)
    before_files = {r.key: (out / r.file).read_bytes() for r in before.records()}

    leftovers = _has_leftovers(out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = collect(CFG, out, FakeHands(), progress=False)
    # a kill between an episode file's write and its manifest line leaves an orphan (or a torn
    # line): the rerun removes it and says so
    assert leftovers == any(issubclass(w.category, StoreRecoveryWarning) for w in caught)
    assert result.skipped == killed_at and result.collected == 12 - killed_at

    store = EpisodeStore(out, readonly=True)
    keys = [store.meta(i)["key"] for i in store.episode_indices()]
    assert len(keys) == 12 and len(set(keys)) == 12
    assert sorted(keys) == sorted(f"sine/{w}/{i:06d}" for w in ("palm_up", "palm_down") for i in range(6))
    assert store.verify().ok
    # The episodes committed before the kill are untouched...
    for rec in store.records():
        if rec.key in before_files:
            assert (out / rec.file).read_bytes() == before_files[rec.key]

    # ...and are exactly what an uninterrupted run collects (determinism), while every episode,
    # collected before or after the kill, commands the same targets as that run.
    reference = collect(CFG, tmp_path / "reference", FakeHands(), progress=False).store
    ref = _episodes(reference)
    after = _episodes(store)
    for key, arrays in after.items():
        np.testing.assert_array_equal(arrays["commanded_targets"], ref[key]["commanded_targets"])
        if key in before_content:
            for field, values in arrays.items():
                np.testing.assert_array_equal(values, ref[key][field], err_msg=f"{key} {field}")


def _has_leftovers(out: Path) -> bool:
    committed = {json.loads(line)["file"] for line in (out / "manifest.jsonl").read_text().splitlines()
                 if line.endswith("}")}  # fmt: skip
    files = {p.relative_to(out).as_posix() for p in (out / "episodes").iterdir()}
    return bool(files - committed) or not (out / "manifest.jsonl").read_bytes().endswith(b"\n")


def test_resume_with_other_settings_is_refused(tmp_path):
    collect(CFG, tmp_path, FakeHands(), progress=False)
    with pytest.raises(ValueError, match=r"seed: store 3, now 4"):
        collect(replace(CFG, seed=4), tmp_path, FakeHands(), progress=False)
    with pytest.raises(ValueError, match=r"mode: store 'sine', now 'square'"):
        collect(replace(CFG, mode="square"), tmp_path, FakeHands(), progress=False)
    # more episodes and another wrist extend the collection
    more = replace(CFG, episodes=7, wrist=("palm_up", "thumb_up"))
    result = collect(more, tmp_path, FakeHands(), progress=False)
    assert (result.skipped, result.collected) == (6, 1 + 7)


def test_resume_on_another_reality_or_an_edited_profile_is_refused(tmp_path):
    """A simulated store records its reality profile by name and content: resuming it on another
    profile, or after the profile file was edited, would mix two hands under one set of keys."""
    from dexndm.collect.hands import SimulatedHands

    profile = tmp_path / "my_hand.toml"
    profile.write_text('name = "my_hand"\nbase = "mild"\n[motor]\np_gain = 600\n')
    cfg = CollectConfig(mode="sine", episodes=1, wrist=("palm_up",), steps=5, settle_s=0.05, seed=0)
    out = tmp_path / "store"
    collect(cfg, out, SimulatedHands(profile=str(profile)), progress=False)
    assert collect(cfg, out, SimulatedHands(profile=str(profile)), progress=False).skipped == 1
    with pytest.raises(ValueError, match=r"reality.profile: store 'my_hand', now 'harsh'"):
        collect(cfg, out, SimulatedHands(profile="harsh"), progress=False)
    profile.write_text('name = "my_hand"\nbase = "mild"\n[motor]\np_gain = 650\n')
    with pytest.raises(ValueError, match=r"reality.profile_sha256") as e:
        collect(cfg, out, SimulatedHands(profile=str(profile)), progress=False)
    assert "reality.profile:" not in str(e.value)  # same name: only the content differs


def test_an_episode_whose_simulated_physics_blew_up_is_not_stored_and_a_rerun_collects_it(
    tmp_path, monkeypatch
):
    """MuJoCo resets a world whose state stops being finite: the joints jump back to the model's
    pose mid-episode, which is no hand's dynamics. That episode is dropped; a rerun collects it."""
    from dexndm.collect.hands import SimulatedHands
    from dexndm.reality.simulated import SimulatedReality

    cfg = CollectConfig(mode="sine", episodes=3, wrist=("palm_up",), steps=6, settle_s=0.05, seed=0)
    torques, episode_2 = SimulatedReality._motor_torques, []

    def poisoned(self):  # once, in the second episode (after the 1 s settle, 50 steps of 1 ms each)
        if not episode_2 and self._step == 50 + 6 * 50 + 70:
            episode_2.append(self._step)
            self.data.qvel[self._dof[0]] = np.nan
        return torques(self)

    monkeypatch.setattr(SimulatedReality, "_motor_torques", poisoned)
    first = collect(cfg, tmp_path, SimulatedHands(), progress=False)
    assert episode_2 and (first.collected, first.dropped) == (2, 1)
    assert sorted(first.store.meta(i)["episode"] for i in first.store.episode_indices()) == [0, 2]
    first.store.close()
    again = collect(cfg, tmp_path, SimulatedHands(), progress=False)
    assert (again.skipped, again.collected, again.dropped) == (2, 1, 0)
    assert all("physics_divergences" not in again.store.meta(i) for i in again.store.episode_indices())
    again.store.close()
