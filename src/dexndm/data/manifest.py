"""The append-only manifest: one JSON line per committed episode or tombstone.

The manifest line is the commit point of an append. A line is written with a single ``write`` of
``json + "\\n"`` followed by flush and fsync, so after a crash the file ends either with a
complete line or with a *torn* tail (bytes of an unfinished line, or garbage/zeros a filesystem
left after power loss). ``scan_manifest`` finds such a tail so that the store can truncate it;
an invalid line anywhere *before* the last one is not a crash artifact and is an error.

Line kinds (``"op"``):
    ``episode``: ``index, file, sha256, bytes, steps, time, meta``.
    ``drop``: ``index, reason, time`` (a tombstone; the episode stays on disk but is no longer data).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ManifestError(RuntimeError):
    """The manifest is damaged in a way a crash cannot explain (e.g. it was edited by hand)."""


@dataclass(frozen=True)
class EpisodeRecord:
    """One committed episode as the manifest describes it.

    Attributes:
        index: episode number, unique for the store's lifetime (dropped numbers are not reused).
        file: path of the npz relative to the store root, e.g. ``episodes/ep_000017.npz``.
        sha256: hex sha256 of the npz file's bytes.
        bytes: size of the npz file in bytes (tells a truncated file from a modified one).
        steps: number of steps ``T`` of every field.
        time: ISO-8601 UTC time of the commit.
        meta: the caller's per-episode metadata (JSON values), including the unique ``key``.
    """

    index: int
    file: str
    sha256: str
    bytes: int
    steps: int
    time: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The caller-chosen unique key, e.g. ``"wrist=palm_up/source=ep17/noise=1/seed=3"``."""
        return self.meta["key"]

    def to_line(self) -> dict[str, Any]:
        return {
            "op": "episode",
            "index": self.index,
            "file": self.file,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "steps": self.steps,
            "time": self.time,
            "meta": self.meta,
        }

    @classmethod
    def from_line(cls, d: dict[str, Any]) -> EpisodeRecord:
        return cls(
            index=int(d["index"]),
            file=str(d["file"]),
            sha256=str(d["sha256"]),
            bytes=int(d["bytes"]),
            steps=int(d["steps"]),
            time=str(d["time"]),
            meta=dict(d["meta"]),
        )


@dataclass
class ManifestScan:
    """Result of reading a manifest.

    Attributes:
        entries: parsed complete lines, in file order.
        valid_size: byte length of the complete lines; a torn tail starts here.
        torn_tail: the bytes after ``valid_size`` (empty when the file ends cleanly).
    """

    entries: list[dict[str, Any]]
    valid_size: int
    torn_tail: bytes = b""


def encode_line(entry: dict[str, Any]) -> bytes:
    """One manifest line: compact JSON, no NaN (not valid JSON), newline-terminated."""
    return (json.dumps(entry, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


def scan_manifest(path: Path) -> ManifestScan:
    """Parse ``path`` (a missing file reads as empty), separating off a torn tail.

    Raises:
        ManifestError: a line other than the last is not valid JSON.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ManifestScan([], 0)
    entries: list[dict[str, Any]] = []
    pos = 0
    lineno = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        lineno += 1
        if end < 0:  # no newline: the write of this line never finished
            return ManifestScan(entries, pos, data[pos:])
        try:
            entry = json.loads(data[pos:end])
            if not isinstance(entry, dict) or "op" not in entry:
                raise ValueError("not a manifest entry")
        except ValueError as e:
            if data[end + 1 :].strip(b"\n\0 ") == b"":
                # Bad bytes only at the very end: what a crash or power loss can leave behind.
                return ManifestScan(entries, pos, data[pos:])
            raise ManifestError(
                f"{path}: line {lineno} is not a valid manifest entry ({e}) and is followed by more "
                "entries; the manifest was modified by something other than dexndm. Restore it from "
                "a backup, or remove that line by hand if you know the episode it described is lost."
            ) from None
        entries.append(entry)
        pos = end + 1
    return ManifestScan(entries, pos)


def append_line(path: Path, entry: dict[str, Any]) -> int:
    """Append one entry durably (write, flush, fsync). Returns the number of bytes written.

    The caller is responsible for fsyncing the directory if this call created the file.
    """
    line = encode_line(entry)
    with open(path, "ab") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
    return len(line)


def truncate(path: Path, size: int) -> None:
    """Cut ``path`` back to ``size`` bytes durably (drops a torn tail or a failed append)."""
    with open(path, "r+b") as f:
        f.truncate(size)
        f.flush()
        os.fsync(f.fileno())
