"""Crash-safe file writes and content hashes: the one place dexndm writes files atomically.

Every stage that writes an artifact (episodes, checkpoints, exports, sidecars) goes through
``atomic_writer``: the bytes go to a temporary file in the destination's directory, are fsynced,
and replace the destination with ``os.replace``, then the directory itself is fsynced. A reader
therefore sees either the old file or the complete new one, never a partial write, even if the
writer is killed (``kill -9``) or the machine loses power.

Temporary files are named ``.<name>.<random>.tmp`` (see ``is_temp_file``) so that cleanup code can
recognise leftovers of interrupted writes without touching anything else.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".tmp"
_CHUNK = 1 << 20  # 1 MiB reads keep hashing fast without holding big files in memory.


def temp_path_for(path: Path) -> Path:
    """A fresh temporary path beside ``path`` (same directory, so ``os.replace`` is atomic)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def is_temp_file(path: Path) -> bool:
    """Whether ``path`` looks like a leftover of ``atomic_writer`` (``.<name>.<hex>.tmp``)."""
    return path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry to disk, so a rename or a new file inside it survives power loss."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: Path | str) -> Iterator[BinaryIO]:
    """Open a binary file that replaces ``path`` only if the ``with`` body finishes.

    If the body raises (or the process dies), ``path`` keeps its old content (or stays absent)
    and the temporary file is removed (or, after a hard kill, left as an ignorable ``*.tmp``).

    Example::

        with atomic_writer(out / "policy.onnx") as f:
            f.write(model_bytes)
    """
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        with open(tmp, "xb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Also on KeyboardInterrupt: never leave a half-written temp file behind when we can help it.
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file, fsync, replace, fsync dir). Returns ``path``."""
    path = Path(path)
    with atomic_writer(path) as f:
        f.write(data)
    return path


def atomic_write_text(path: Path | str, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; see ``atomic_write_bytes``. Returns ``path``."""
    return atomic_write_bytes(path, text.encode(encoding))


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path | str) -> str:
    """Hex sha256 of a file's content, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
