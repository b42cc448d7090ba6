"""kill -9 during collection neither loses nor duplicates an episode, nor leaves bad data.

A child process collects a planned list of keys into the store (skipping keys already present, as
collectors do) and is SIGKILLed at random moments; then at chosen points inside ``append``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from dexndm.data import EpisodeStore, StoreRecoveryWarning

STEPS = 50

COLLECTOR = """
import os, signal, sys, warnings
import dexndm.data.atomic, dexndm.data.manifest
from dexndm.data import EpisodeStore, real_episode_schema

warnings.simplefilter("ignore")
root, n_planned, crash_at = sys.argv[1], int(sys.argv[2]), sys.argv[3]
store = EpisodeStore.create(root, real_episode_schema(), command="crash-test", exist_ok=True)

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

def torn_append(path, entry):
    line = dexndm.data.manifest.encode_line(entry)
    with open(path, "ab") as f:
        f.write(line[: len(line) // 2])
        f.flush()
        os.fsync(f.fileno())
    die()

print("ready", flush=True)
for i in range(n_planned):
    key = f"wrist=palm_up/source=ep{i}/noise=1/seed=0"
    if store.has(key):
        continue
    if len(store) == 2:  # arm the chosen crash point for the third episode
        if crash_at == "before_replace":
            os.replace = die
        elif crash_at == "before_manifest":
            dexndm.data.manifest.append_line = die
        elif crash_at == "torn_manifest":
            dexndm.data.manifest.append_line = torn_append
    store.append(make_episode(key, STEPS), {"key": key, "i": i})
print("done", flush=True)
"""


def planned_key(i: int) -> str:
    return f"wrist=palm_up/source=ep{i}/noise=1/seed=0"


@pytest.fixture
def start_collector(make_episode_src):
    """``start_collector(root, n_planned, crash_at="none")`` -> the running child process."""

    def start(root, n_planned: int, crash_at: str = "none") -> subprocess.Popen:
        source = f"{make_episode_src}\nSTEPS = {STEPS}\n{COLLECTOR}"
        return subprocess.Popen(
            [sys.executable, "-c", source, str(root), str(n_planned), crash_at],
            stdout=subprocess.PIPE,
            text=True,
        )

    return start


def reopen_and_check(root, n_planned: int, make_episode) -> EpisodeStore:
    """Reopen (repairing), then: verify clean, no orphans, every entry loads the data of its key."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StoreRecoveryWarning)
        store = EpisodeStore(root)
    report = store.verify()
    assert report.ok, str(report)
    assert report.orphans == [] and not report.torn_manifest_tail
    keys = [store.meta(i)["key"] for i in store.episode_indices()]
    assert len(keys) == len(set(keys)), "duplicate episode"
    assert set(keys) <= {planned_key(i) for i in range(n_planned)}
    for ep in store:
        expected = make_episode(ep.meta["key"], STEPS)
        for name, arr in expected.items():
            np.testing.assert_array_equal(ep.arrays[name], arr)
    return store


def test_random_sigkill_then_resume_completes_plan(tmp_path, start_collector, make_episode):
    root = tmp_path / "store"
    n_planned = 300
    rng = random.Random(1234)
    counts = []
    for _ in range(6):
        proc = start_collector(root, n_planned)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.08))
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        counts.append(len(reopen_and_check(root, n_planned, make_episode)))
    assert counts == sorted(counts)  # committed episodes are never lost

    proc = start_collector(root, n_planned)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.splitlines()[-1] == "done"
    store = reopen_and_check(root, n_planned, make_episode)
    assert len(store) == n_planned
    assert {store.meta(i)["key"] for i in store.episode_indices()} == {
        planned_key(i) for i in range(n_planned)
    }


@pytest.mark.parametrize(
    ("crash_at", "leftover"),
    [
        ("before_replace", "temp npz"),
        ("before_manifest", "uncommitted npz"),
        ("torn_manifest", "torn manifest line"),
    ],
)
def test_sigkill_at_each_step_of_append(tmp_path, crash_at, leftover, start_collector, make_episode):
    root = tmp_path / "store"
    proc = start_collector(root, 5, crash_at)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    ro = EpisodeStore(root, readonly=True)
    assert len(ro) == 2  # the third episode was never committed
    report = ro.verify()
    assert report.ok
    if leftover == "temp npz":
        assert len(report.orphans) == 1 and report.orphans[0].endswith(".tmp")
    elif leftover == "uncommitted npz":
        assert report.orphans == ["episodes/ep_000002.npz"]
    else:
        assert report.torn_manifest_tail and report.orphans == ["episodes/ep_000002.npz"]

    with pytest.warns(StoreRecoveryWarning):
        EpisodeStore(root).close()
    reopen_and_check(root, 5, make_episode)

    proc = start_collector(root, 5)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    store = reopen_and_check(root, 5, make_episode)
    assert len(store) == 5 and store.episode_indices() == [0, 1, 2, 3, 4]
