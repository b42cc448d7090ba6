"""What ``EpisodeStore.verify()`` finds: one ``EpisodeProblem`` per damaged episode, in words.

Kept apart from the store so the messages (and the fix each one suggests) live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ProblemKind = Literal["missing", "truncated", "checksum", "unreadable", "schema"]

DROP_COMMAND = "dexndm data drop {root} {index}"
"""How the CLI drops an episode; quoted in the messages."""

_EXPLANATION: dict[str, str] = {
    "missing": "file missing — it was deleted or moved after it was written",
    "truncated": "file truncated — it is shorter than when it was written (interrupted copy or full disk?)",
    "checksum": "checksum mismatch — the file was modified or truncated after it was written",
    "unreadable": "not a readable npz file",
    "schema": "its fields do not match the store's schema",
}


@dataclass(frozen=True)
class EpisodeProblem:
    """One damaged episode.

    Attributes:
        index: episode index.
        file: its file relative to the store root.
        kind: ``missing | truncated | checksum | unreadable | schema``.
        detail: specifics (byte counts, the loader's or schema check's message), may be empty.
        root: the store root, used to spell out the fix command.
    """

    index: int
    file: str
    kind: ProblemKind
    detail: str = ""
    root: Path | None = None

    @property
    def message(self) -> str:
        """E.g. ``episode 17 (episodes/ep_000017.npz): checksum mismatch — ...; delete it with ...``."""
        detail = f" ({self.detail})" if self.detail else ""
        drop = DROP_COMMAND.format(root=self.root if self.root is not None else "<store>", index=self.index)
        fix = "restore the file from a backup, or " if self.kind == "missing" else ""
        return (
            f"episode {self.index} ({self.file}): {_EXPLANATION[self.kind]}{detail}; "
            f"{fix}delete it with `{drop}` or re-collect "
            "(rerunning the collector collects dropped keys again)"
        )


@dataclass
class VerifyReport:
    """Result of ``EpisodeStore.verify()``.

    Attributes:
        root: the store checked.
        checked: number of live episodes checked.
        problems: damaged episodes, by index.
        orphans: files (relative to root) no manifest entry refers to: leftovers of interrupted
            appends, harmless and deleted the next time the store is opened for writing (or the
            in-flight file of a collector that is running now).
        dropped: indices of dropped episodes (not checked).
        torn_manifest_tail: the manifest ends in an unfinished line (ignored; truncated on the
            next writable open).
    """

    root: Path
    checked: int
    problems: list[EpisodeProblem] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    torn_manifest_tail: bool = False

    @property
    def ok(self) -> bool:
        """No damaged episode (orphans and a torn tail are harmless and do not count)."""
        return not self.problems

    @property
    def bad_indices(self) -> list[int]:
        return [p.index for p in self.problems]

    def __str__(self) -> str:
        lines = [f"{self.root}: {self.checked} episodes checked, {len(self.problems)} damaged"]
        lines += [f"  {p.message}" for p in self.problems]
        if self.orphans:
            lines.append(f"  {len(self.orphans)} orphan file(s), ignored: {', '.join(self.orphans)}")
        if self.torn_manifest_tail:
            lines.append("  manifest ends in a torn line (ignored; truncated on the next writable open)")
        return "\n".join(lines)
