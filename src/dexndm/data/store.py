"""The episode store: append-only, crash-safe, verifiable storage of collected episodes.

Layout of a store directory::

    meta.json          dataset metadata, written once atomically: format, schema version, field
                       schema, producer (command, config, versions, git), created time
    manifest.jsonl     append-only, one JSON line per committed episode or tombstone
    episodes/ep_000123.npz
    .lock              advisory lock held by the one process that appends (see ``lock``)

An append writes the npz atomically (temp file, fsync, replace, fsync dir) and then appends the
manifest line (flush, fsync): the manifest line is the commit point. A crash at any moment leaves
either a committed episode or an uncommitted npz/temp file that readers ignore and the next writer
deletes; a torn last manifest line is truncated (with a warning) by the next writer.

Collecting with resume (``kill -9`` and rerun neither loses nor duplicates an episode)::

    store = EpisodeStore.create(root, real_episode_schema(), command=argv, config=cfg, exist_ok=True)
    for key in planned_keys:               # e.g. "wrist=palm_up/source=ep17/noise=1/seed=3"
        if store.has(key):
            continue
        arrays = run_episode(...)          # {"joint_pos": (T, 16) float32, ..., "time": (T,) float64}
        store.append(arrays, {"key": key, "wrist": "palm_up", "mode": "replay", "noise": 1})

Training::

    store = EpisodeStore(root, schema=real_episode_schema())
    batch = store.stack(["joint_pos", "joint_targets"], store.select(wrist="palm_up"))
"""

from __future__ import annotations

import contextlib
import json
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dexndm.data import manifest as mf
from dexndm.data.artifacts import provenance, to_json_value, utc_now
from dexndm.data.atomic import atomic_write_bytes, atomic_write_text, fsync_dir, is_temp_file, sha256_bytes
from dexndm.data.lock import WriterLock
from dexndm.data.manifest import EpisodeRecord, ManifestError
from dexndm.data.npz import READ_ERRORS, decode_npz, encode_npz, episode_file_name
from dexndm.data.schema import SCHEMA_VERSION, STORE_FORMAT, Schema, SchemaError
from dexndm.data.verify import EpisodeProblem, VerifyReport

META_FILE = "meta.json"
MANIFEST_FILE = "manifest.jsonl"
EPISODES_DIR = "episodes"
LOCK_FILE = ".lock"
_EPISODE_FILE = re.compile(r"^ep_\d{6,}\.npz$")


class StoreError(RuntimeError):
    """The store cannot be opened or written as asked; the message says how to fix it."""


class StoreLockedError(StoreError):
    """Another process is appending to this store."""


class DuplicateEpisodeError(StoreError):
    """An episode with this key is already committed."""


class EpisodeError(RuntimeError):
    """A committed episode's file is missing or damaged. ``problem`` says which and what to do."""

    def __init__(self, problem: EpisodeProblem):
        super().__init__(problem.message)
        self.problem = problem


class StoreRecoveryWarning(UserWarning):
    """Opening the store repaired what an interrupted writer left (torn manifest line, orphans)."""


@dataclass(frozen=True)
class Episode:
    """One loaded episode: ``arrays`` maps each field to ``(T, *shape)``."""

    index: int
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]


class EpisodeStore:
    """An append-only directory of equal-schema episodes; see the module docstring.

    Episodes are addressed by their ``index`` (an int assigned on append, never reused, also after
    a drop) and found by their caller-chosen unique ``meta["key"]``.

    Args:
        root: the store directory (made by ``EpisodeStore.create``).
        schema: if given, the store's schema must equal it (clear error naming the field if not).
        readonly: never lock, repair or write; for inspecting a store another process is filling.

    Opening (not readonly) repairs the leftovers of a crashed writer when no other process is
    writing: it truncates a torn last manifest line and deletes uncommitted episode/temp files,
    warning with ``StoreRecoveryWarning``. The first ``append``/``drop`` takes an exclusive lock
    (released by ``close()``, the end of a ``with`` block, or process exit, ``kill -9`` included).
    """

    def __init__(self, root: Path | str, schema: Schema | None = None, *, readonly: bool = False):
        self.root = Path(root)
        self.readonly = readonly
        self._lock = WriterLock(self.root / LOCK_FILE)
        meta_path = self.root / META_FILE
        try:
            self._meta = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise StoreError(
                f"no episode store at {self.root} ({META_FILE} missing); create one with "
                "EpisodeStore.create(root, schema, ...)"
            ) from None
        if self._meta.get("format") != STORE_FORMAT:
            raise StoreError(
                f"{meta_path} is not a dexndm episode store (format {self._meta.get('format')!r})"
            )
        version = self._meta.get("schema_version")
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.root} was written with store schema version {version}, but this dexndm reads "
                f"version {SCHEMA_VERSION}; use the dexndm version that wrote it (see producer.versions "
                f"in {meta_path}) or convert the store"
            )
        self.schema = Schema.from_json(self._meta["fields"])
        if schema is not None and schema != self.schema:
            diffs = "; ".join(self.schema.differences(schema))
            raise SchemaError(
                f"{self.root} has a different field schema than requested: {diffs}. "
                "Open it without schema= to read it as is, or write to a new store"
            )
        if readonly or not self._lock.try_acquire(quiet=True):
            self._load(recover=False)
        else:
            try:
                self._load(recover=True)
            finally:
                # Readers should not block a collector: hold the lock only from the first write on.
                self._lock.release()

    # ------------------------------------------------------------------ creation / lifetime

    @classmethod
    def create(
        cls,
        root: Path | str,
        schema: Schema,
        *,
        command: str | Sequence[str] | None = None,
        config: Mapping[str, Any] | Any = None,
        info: Mapping[str, Any] | None = None,
        exist_ok: bool = False,
    ) -> EpisodeStore:
        """Create a store at ``root`` and return it opened for appending.

        Args:
            schema: per-step fields, e.g. ``real_episode_schema()``.
            command: what is producing the data (argv list or string; default ``sys.argv``).
            config: the producing config (dict or dataclass), recorded in ``meta.json``.
            info: free dataset-level metadata (e.g. ``{"source": "real", "hand": "leap_right"}``).
            exist_ok: if the store exists, open it (checking ``schema``) instead of failing;
                collectors use this to resume. ``command``/``config`` of the first run are kept.
        """
        root = Path(root)
        if (root / META_FILE).exists():
            if not exist_ok:
                raise StoreError(
                    f"an episode store already exists at {root}; pass exist_ok=True to resume it"
                )
            return cls(root, schema)
        root.mkdir(parents=True, exist_ok=True)
        (root / EPISODES_DIR).mkdir(exist_ok=True)
        (root / MANIFEST_FILE).touch()
        fsync_dir(root)
        meta = {
            "format": STORE_FORMAT,
            "schema_version": SCHEMA_VERSION,
            "fields": schema.to_json(),
            "info": to_json_value(dict(info or {})),
            "producer": provenance(command, config if config is not None else {}),
        }
        meta["created"] = meta["producer"]["created"]
        # meta.json last: it is what makes the directory a store.
        atomic_write_text(root / META_FILE, json.dumps(meta, indent=2) + "\n")
        return cls(root, schema)

    def close(self) -> None:
        """Release the write lock (if held). The store can still be read afterwards."""
        self._lock.release()

    def __enter__(self) -> EpisodeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._lock.release()

    # ------------------------------------------------------------------ locking and recovery

    def _ensure_writable(self) -> None:
        if self.readonly:
            raise StoreError(f"{self.root} was opened readonly")
        if self._broken:
            raise StoreError(
                f"a failed manifest write left {self.root} in an unknown state; reopen the store"
            )
        if self._lock.held:
            return
        if not self._lock.try_acquire():
            raise StoreLockedError(
                f"another process (pid {self._lock.holder()}) is writing to {self.root}; one writer at a "
                "time. Wait for it to finish or stop it, then rerun (committed episodes are kept)"
            )
        # Another process may have appended since we loaded: re-read under the lock.
        self._load(recover=True)

    def _load(self, *, recover: bool) -> None:
        """(Re)build the in-memory index from the manifest; with ``recover``, repair leftovers."""
        path = self.root / MANIFEST_FILE
        scan = mf.scan_manifest(path)
        self._broken = False
        self._torn_tail = bool(scan.torn_tail)
        if scan.torn_tail and recover:
            mf.truncate(path, scan.valid_size)
            self._torn_tail = False
            warnings.warn(
                f"{path}: removed a torn last line ({len(scan.torn_tail)} bytes) left by an interrupted "
                "append; that episode was never committed and will be collected again on resume",
                StoreRecoveryWarning,
                stacklevel=3,
            )
        self._manifest_size = scan.valid_size
        self._live: dict[int, EpisodeRecord] = {}
        self._dropped: dict[int, tuple[EpisodeRecord, str]] = {}
        self._by_key: dict[str, int] = {}
        for lineno, entry in enumerate(scan.entries, 1):
            self._apply(entry, f"{path}:{lineno}")
        if recover:
            self._remove_orphans()

    def _apply(self, entry: dict[str, Any], where: str) -> None:
        op = entry.get("op")
        if op == "episode":
            try:
                rec = EpisodeRecord.from_line(entry)
            except (KeyError, TypeError, ValueError) as e:
                raise ManifestError(f"{where}: malformed episode entry ({e!r})") from None
            if rec.index in self._live or rec.index in self._dropped:
                raise ManifestError(f"{where}: episode {rec.index} is committed twice")
            if rec.key in self._by_key:
                raise ManifestError(f"{where}: key {rec.key!r} is already episode {self._by_key[rec.key]}")
            self._live[rec.index] = rec
            self._by_key[rec.key] = rec.index
        elif op == "drop":
            index = int(entry["index"])
            rec = self._live.pop(index, None)
            if rec is None:
                raise ManifestError(f"{where}: drop of episode {index}, which is not a live episode")
            del self._by_key[rec.key]
            self._dropped[index] = (rec, str(entry.get("reason", "")))
        else:
            raise ManifestError(f"{where}: unknown entry op {op!r}; written by a newer dexndm?")

    def _next_index(self) -> int:
        return max([*self._live, *self._dropped], default=-1) + 1

    def orphan_files(self) -> list[Path]:
        """Files no manifest entry refers to: temp files and uncommitted ``ep_*.npz``.

        While another process appends, its in-flight temp file shows up here too.
        """
        referenced = {r.file for r in self._live.values()} | {r.file for r, _ in self._dropped.values()}
        out = [p for p in self.root.iterdir() if p.is_file() and is_temp_file(p)]
        episodes = self.root / EPISODES_DIR
        if episodes.is_dir():
            for p in episodes.iterdir():
                rel = f"{EPISODES_DIR}/{p.name}"
                if is_temp_file(p) or (_EPISODE_FILE.match(p.name) and rel not in referenced):
                    out.append(p)
        return sorted(out)

    def _remove_orphans(self) -> None:
        orphans = self.orphan_files()
        for p in orphans:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        if orphans:
            names = ", ".join(p.relative_to(self.root).as_posix() for p in orphans)
            warnings.warn(
                f"{self.root}: removed {len(orphans)} uncommitted file(s) left by an interrupted "
                f"append: {names}",
                StoreRecoveryWarning,
                stacklevel=4,
            )

    def refresh(self) -> None:
        """Re-read the manifest, to see episodes another process appended since opening."""
        if not self._lock.held:  # while we hold the lock, nobody else can have appended
            self._load(recover=False)

    # ------------------------------------------------------------------ writing

    def append(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> int:
        """Commit one episode and return its index.

        Args:
            arrays: ``{field: (T, *shape) array}``, exactly the schema's fields and dtypes, one ``T``.
            meta: JSON-serialisable per-episode metadata with a unique string ``"key"``
                (e.g. ``{"key": "wrist=palm_up/source=ep17/noise=1/seed=3", "wrist": "palm_up",
                "mode": "replay", "noise": 1}``). Stored as JSON (tuples come back as lists).

        Raises:
            SchemaError: the arrays do not match the schema (the message names the field).
            DuplicateEpisodeError: ``meta["key"]`` is already committed.
            StoreLockedError: another process is writing to this store.
        """
        meta = self._check_meta(meta)
        self._ensure_writable()
        key = meta["key"]
        if key in self._by_key:
            raise DuplicateEpisodeError(
                f"episode key {key!r} is already committed as episode {self._by_key[key]} in {self.root}; "
                "collectors should skip planned keys for which store.has(key) is true"
            )
        steps = self.schema.validate(arrays)
        index = self._next_index()
        rel = episode_file_name(index)
        data = encode_npz({name: arrays[name] for name in self.schema})
        atomic_write_bytes(self.root / rel, data)
        rec = EpisodeRecord(index, rel, sha256_bytes(data), len(data), steps, utc_now(), meta)
        self._commit(rec.to_line())
        self._live[index] = rec
        self._by_key[key] = index
        return index

    def drop(self, index: int, reason: str = "") -> None:
        """Retire episode ``index`` by appending a tombstone line (its file stays on disk).

        Its key becomes free, so a resumed collector collects that key again.
        """
        self._ensure_writable()
        rec = self.record(index)
        self._commit({"op": "drop", "index": index, "reason": reason, "time": utc_now()})
        del self._live[index]
        del self._by_key[rec.key]
        self._dropped[index] = (rec, reason)

    def _commit(self, entry: dict[str, Any]) -> None:
        path = self.root / MANIFEST_FILE
        created = not path.exists()
        try:
            self._manifest_size += mf.append_line(path, entry)
        except BaseException:
            # A partial line must not stay in front of the next append (it would become a corrupt
            # middle line); cut back to the last commit, or refuse further writes.
            try:
                mf.truncate(path, self._manifest_size)
            except BaseException:
                self._broken = True
            raise
        if created:
            fsync_dir(self.root)

    @staticmethod
    def _check_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(meta, Mapping):
            raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
        key = meta.get("key")
        if not isinstance(key, str) or not key:
            raise ValueError(
                "meta needs a non-empty string 'key' that names the episode uniquely in the collection "
                "plan (e.g. 'wrist=palm_up/source=ep17/noise=1/seed=3'); collectors resume by it"
            )
        try:
            return to_json_value(dict(meta))
        except (TypeError, ValueError) as e:
            raise ValueError(f"meta must be JSON-serialisable (no NaN): {e}") from None

    # ------------------------------------------------------------------ reading

    @property
    def dataset_meta(self) -> dict[str, Any]:
        """The content of ``meta.json`` (format, schema, producer, info, created)."""
        return json.loads(json.dumps(self._meta))

    def __len__(self) -> int:
        """Number of live (committed, not dropped) episodes."""
        return len(self._live)

    def episode_indices(self) -> list[int]:
        """Indices of live episodes, ascending."""
        return sorted(self._live)

    def dropped_indices(self) -> list[int]:
        """Indices of dropped episodes, ascending."""
        return sorted(self._dropped)

    def has(self, key: str) -> bool:
        """Whether a live episode has ``meta["key"] == key``."""
        return key in self._by_key

    def index_of(self, key: str) -> int:
        """Index of the live episode with this key (``KeyError`` if none)."""
        try:
            return self._by_key[key]
        except KeyError:
            raise KeyError(f"no live episode with key {key!r} in {self.root}") from None

    def record(self, index: int) -> EpisodeRecord:
        """The manifest record of live episode ``index``."""
        try:
            return self._live[index]
        except KeyError:
            pass
        if index in self._dropped:
            reason = self._dropped[index][1]
            raise KeyError(f"episode {index} of {self.root} was dropped" + (f" ({reason})" if reason else ""))
        raise KeyError(f"no episode {index} in {self.root} ({len(self)} live episodes)")

    def records(self) -> list[EpisodeRecord]:
        """Records of live episodes, by index."""
        return [self._live[i] for i in sorted(self._live)]

    def meta(self, index: int) -> dict[str, Any]:
        """Per-episode metadata of episode ``index`` (a copy)."""
        return json.loads(json.dumps(self.record(index).meta))

    def load(self, index: int, *, verify: bool = True) -> dict[str, np.ndarray]:
        """Arrays of episode ``index``: ``{field: (T, *shape)}``.

        Args:
            verify: check the file's sha256 against the manifest (costs one hash of ~100 kB).

        Raises:
            EpisodeError: the file is missing, truncated, modified or does not match the schema.
        """
        return self._read(self.record(index), verify=verify)

    def _read(self, rec: EpisodeRecord, *, verify: bool) -> dict[str, np.ndarray]:
        def fail(kind: str, detail: str = "") -> EpisodeError:
            return EpisodeError(EpisodeProblem(rec.index, rec.file, kind, detail, self.root))

        try:
            data = (self.root / rec.file).read_bytes()
        except FileNotFoundError:
            raise fail("missing") from None
        if verify:
            if len(data) < rec.bytes:
                raise fail("truncated", f"{len(data)} of {rec.bytes} bytes")
            if sha256_bytes(data) != rec.sha256:
                raise fail("checksum")
        try:
            arrays = decode_npz(data)
        except READ_ERRORS as e:
            raise fail("unreadable", str(e)) from None
        try:
            steps = self.schema.validate(arrays)
        except SchemaError as e:
            raise fail("schema", str(e)) from None
        if steps != rec.steps:
            raise fail("schema", f"{steps} steps, manifest says {rec.steps}")
        return arrays

    def __iter__(self) -> Iterator[Episode]:
        """Live episodes in index order, each loaded (and verified)."""
        for rec in self.records():
            yield Episode(rec.index, self.meta(rec.index), self._read(rec, verify=True))

    def select(self, **filters: Any) -> list[int]:
        """Indices of live episodes whose metadata match every filter, ascending.

        A filter value matches by equality (compared as JSON, so a tuple matches a stored list), or,
        if callable, when ``value(meta_value)`` is true. A missing meta key never matches.

        Example: ``store.select(wrist="palm_up", noise=lambda n: n > 0)``.
        """
        preds: dict[str, Callable[[Any], bool]] = {}
        for name, want in filters.items():
            if callable(want):
                preds[name] = want
            else:
                preds[name] = (lambda w: lambda v: v == w)(to_json_value(want))
        missing = object()
        return [
            rec.index
            for rec in self.records()
            if all((v := rec.meta.get(n, missing)) is not missing and p(v) for n, p in preds.items())
        ]

    def stack(
        self, fields: Sequence[str] | str, indices: Sequence[int] | None = None, *, verify: bool = True
    ) -> dict[str, np.ndarray]:
        """Stack equal-length episodes: ``{field: (E, T, *shape)}`` in the order of ``indices``.

        Args:
            fields: field names (a single name is accepted too).
            indices: episode indices (default: all live ones, ascending).
            verify: check each file's sha256.

        Raises:
            ValueError: the episodes differ in length (the message lists lengths and episodes).
        """
        if isinstance(fields, str):
            fields = [fields]
        unknown = [f for f in fields if f not in self.schema]
        if unknown:
            raise KeyError(f"unknown field(s) {unknown}; the store has {list(self.schema)}")
        recs = [self.record(i) for i in (self.episode_indices() if indices is None else indices)]
        lengths: dict[int, list[int]] = {}
        for r in recs:
            lengths.setdefault(r.steps, []).append(r.index)
        if len(lengths) > 1:
            desc = "; ".join(f"{t} steps: episodes {_brief(ix)}" for t, ix in sorted(lengths.items()))
            raise ValueError(f"stack needs equal-length episodes, found {desc}; pass indices= to choose")
        steps = recs[0].steps if recs else 0
        # Preallocate so peak memory is the result plus one episode.
        out = {
            f: np.empty((len(recs), steps, *self.schema[f].shape), dtype=self.schema[f].dtype) for f in fields
        }
        for e, rec in enumerate(recs):
            arrays = self._read(rec, verify=verify)
            for f in fields:
                out[f][e] = arrays[f]
        return out

    # ------------------------------------------------------------------ checking

    def verify(self, on_intact: Callable[[int, dict[str, np.ndarray]], None] | None = None) -> VerifyReport:
        """Check every live episode (file present, size, sha256, npz readable, schema, length).

        Never raises for a damaged episode: each one is named in the report with the problem and
        the fix. Also lists orphan files and whether the manifest ends in a torn line.
        ``on_intact(index, arrays)`` is called for each intact episode, so that checks of content
        (``dexndm data verify``'s joint checks) need not read the store a second time.
        """
        problems = []
        for rec in self.records():
            try:
                arrays = self._read(rec, verify=True)
            except EpisodeError as e:
                problems.append(e.problem)
                continue
            if on_intact is not None:
                on_intact(rec.index, arrays)
        return VerifyReport(
            root=self.root,
            checked=len(self._live),
            problems=problems,
            orphans=[p.relative_to(self.root).as_posix() for p in self.orphan_files()],
            dropped=self.dropped_indices(),
            torn_manifest_tail=self._torn_tail,
        )


def _brief(indices: list[int], limit: int = 8) -> str:
    shown = ", ".join(map(str, indices[:limit]))
    return shown + (f", ... ({len(indices)} in all)" if len(indices) > limit else "")
