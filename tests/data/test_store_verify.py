"""verify() names each damaged episode; opening repairs a torn manifest tail and orphan files."""

from __future__ import annotations

import pytest

from dexndm.data import EpisodeError, EpisodeStore, StoreRecoveryWarning


def test_clean_store_verifies(filled_store):
    report = EpisodeStore(filled_store.root).verify()
    assert report.ok and report.checked == 5 and report.orphans == [] and report.problems == []


def test_truncated_and_byte_flipped_files_are_named(filled_store):
    root = filled_store.root
    truncated = root / "episodes/ep_000001.npz"
    truncated.write_bytes(truncated.read_bytes()[:-1000])
    flipped = root / "episodes/ep_000003.npz"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit inside an array: still a valid npz, different content
    flipped.write_bytes(bytes(data))
    (root / "episodes/ep_000004.npz").unlink()

    store = EpisodeStore(root)
    report = store.verify()
    assert not report.ok
    assert report.bad_indices == [1, 3, 4]
    kinds = {p.index: p.kind for p in report.problems}
    assert kinds == {1: "truncated", 3: "checksum", 4: "missing"}
    msg = {p.index: p.message for p in report.problems}
    assert msg[3].startswith(
        "episode 3 (episodes/ep_000003.npz): checksum mismatch — the file was modified or truncated after it "
        "was written; delete it with `dexndm data drop"
    )
    assert "episode 1 (episodes/ep_000001.npz): file truncated" in msg[1]
    assert "episode 4 (episodes/ep_000004.npz): file missing" in msg[4]
    assert "episode 3" in str(report)

    with pytest.raises(EpisodeError, match="episode 3 .*checksum mismatch"):
        store.load(3)
    # Without the sha256 check, the zip's own CRC still catches both.
    with pytest.raises(EpisodeError, match="episode 3 .*not a readable npz file \\(Bad CRC-32"):
        store.load(3, verify=False)
    with pytest.raises(EpisodeError, match="episode 1 .*not a readable npz"):
        store.load(1, verify=False)


def test_torn_last_manifest_line_is_truncated_on_open(filled_store, make_episode):
    manifest = filled_store.root / "manifest.jsonl"
    clean_size = manifest.stat().st_size
    with open(manifest, "ab") as f:
        f.write(b'{"op":"episode","index":5,"file":"episodes/ep_0000')  # the write that never finished

    # A read-only open ignores the torn tail and reports it, but leaves the file alone.
    ro = EpisodeStore(filled_store.root, readonly=True)
    assert len(ro) == 5 and ro.verify().torn_manifest_tail and ro.verify().ok
    assert manifest.stat().st_size > clean_size

    with pytest.warns(StoreRecoveryWarning, match="torn last line"):
        store = EpisodeStore(filled_store.root)
    assert manifest.stat().st_size == clean_size
    assert len(store) == 5 and store.verify().ok and not store.verify().torn_manifest_tail
    assert store.append(make_episode("k5"), {"key": "k5"}) == 5
    store.close()
    assert len(EpisodeStore(filled_store.root)) == 6


def test_corrupt_middle_line_is_an_error_not_silently_dropped(filled_store):
    manifest = filled_store.root / "manifest.jsonl"
    lines = manifest.read_bytes().splitlines(keepends=True)
    lines[2] = b"garbage\n"
    manifest.write_bytes(b"".join(lines))
    with pytest.raises(RuntimeError, match="line 3 is not a valid manifest entry"):
        EpisodeStore(filled_store.root)


def test_orphans_are_reported_then_removed(filled_store):
    root = filled_store.root
    (root / "episodes/ep_000005.npz").write_bytes(b"uncommitted")  # replaced, manifest line never written
    (root / "episodes/.ep_000006.npz.1a2b3c4d.tmp").write_bytes(b"half")  # killed before replace
    (root / "notes.txt").write_text("mine")  # not ours: never touched

    report = EpisodeStore(root, readonly=True).verify()
    assert report.ok
    assert report.orphans == ["episodes/.ep_000006.npz.1a2b3c4d.tmp", "episodes/ep_000005.npz"]

    with pytest.warns(StoreRecoveryWarning, match="removed 2 uncommitted file"):
        store = EpisodeStore(root)
    assert store.verify().orphans == []
    assert (root / "notes.txt").exists()
