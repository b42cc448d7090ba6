"""The single-writer lock of an episode store (``<root>/.lock``, an advisory ``flock``).

The kernel releases a ``flock`` when its holder exits for any reason, ``kill -9`` included, so a
crashed collector never leaves a stale lock: the next run simply takes it. The holder writes its
pid into the file only so that the error another process shows can name it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class WriterLock:
    """Exclusive, non-blocking lock on ``path`` for this process; see the module docstring."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self, *, quiet: bool = False) -> bool:
        """Take the lock without waiting; ``False`` if another holder has it.

        With ``quiet``, a lock file that cannot be created (read-only media) also gives ``False``;
        otherwise that ``OSError`` propagates.
        """
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            if quiet:
                return False
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return True

    def release(self) -> None:
        """Release the lock if held (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder(self) -> str:
        """Pid of the last holder as recorded in the file, or ``"?"``."""
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"
