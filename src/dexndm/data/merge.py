"""Merge episode stores into one: ``dexndm data merge OUT SOURCE [SOURCE ...]``.

Why: the models are fitted on one store (``--real-data``), but real data arrives in pieces: one Chaos
Box session per day, or one round of task episodes per on-policy iteration (collect with the current
base + residual, refit, collect again). Refitting on every round so far rather than the last one
alone keeps what the earlier rounds taught the model (the aggregation of DAgger); this verb builds
that union without touching the sources.

The merged store is an ordinary store. Each episode keeps its metadata, with its key prefixed by its
source's position (``src0/``, ``src1/``, ...) so that equal keys from two rounds do not collide, and
``merged_from`` / ``merged_index`` saying where it came from. ``meta.json`` keeps the info every
source agrees on (``source``, ``hand``, ...) and lists each source's own info under ``merged_from``.
A rerun with the same sources resumes: it copies only what is new, such as episodes a still-running
collector has added since. Sources that disagree on the schema, on ``source`` (sim against real) or
on ``hand`` (a LEAP hand against a simulated one) are refused: no reader could tell the two kinds of
episodes apart afterwards.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dexndm.data.plan import check_store_plan
from dexndm.data.schema import SchemaError
from dexndm.data.store import META_FILE, EpisodeStore

__all__ = ["IDENTITY_KEYS", "MergeReport", "merge_stores", "merged_key"]

IDENTITY_KEYS = ("source", "hand")
"""Store info that says what kind of episodes it holds; sources must agree on each."""


def merged_key(source: int, key: str) -> str:
    """The merged store's key for the episode ``key`` of source number ``source``."""
    return f"src{source}/{key}"


@dataclass
class MergeReport:
    """What a merge did: episodes copied now and already present, per source (in order)."""

    out: Path
    copied: list[int] = field(default_factory=list)
    present: list[int] = field(default_factory=list)
    differing_info: list[str] = field(default_factory=list)
    """Info keys the sources disagree on (kept per source under ``merged_from`` only)."""
    lengths: dict[int, int] = field(default_factory=dict)
    """Episodes of the merged store by their number of steps."""

    @property
    def unused_steps(self) -> float:
        """Fraction of the merged steps a trainer leaves out: it stacks episodes cut to the shortest
        (``dexndm.dynamics.datasets.load_episode_arrays``), so merging 400-step Chaos Box episodes
        with 40-step task pieces would train on a tenth of the Chaos Box data."""
        total = sum(steps * n for steps, n in self.lengths.items())
        return 0.0 if not total else 1.0 - min(self.lengths) * sum(self.lengths.values()) / total

    @property
    def total(self) -> int:
        return sum(self.copied) + sum(self.present)


def _open_sources(sources: Sequence[Path]) -> list[EpisodeStore]:
    if not sources:
        raise ValueError("merge needs at least one source store")
    resolved = [p.resolve() for p in sources]
    repeated = sorted({str(p) for p in resolved if resolved.count(p) > 1})
    if repeated:
        raise ValueError(f"source store(s) given more than once: {', '.join(repeated)}; name each once")
    stores = [EpisodeStore(p, readonly=True) for p in sources]
    first = stores[0]
    for other in stores[1:]:
        if other.schema != first.schema:
            diffs = "; ".join(first.schema.differences(other.schema))
            raise SchemaError(
                f"{other.root} has another field schema than {first.root} ({diffs}); only stores with "
                "the same fields can be merged (record them the same way, e.g. all with or all without "
                "--observations)"
            )
    for what in IDENTITY_KEYS:
        kinds = {str(s.root): s.dataset_meta.get("info", {}).get(what) for s in stores}
        if len(set(kinds.values())) > 1:
            listing = ", ".join(f"{root}: {kind}" for root, kind in kinds.items())
            raise ValueError(
                f"the sources differ in {what} ({listing}): a store that mixed them could not be split "
                "again by any trainer (e.g. sim with real episodes, or a LEAP hand's with a simulated "
                "one's); merge each kind into its own store"
            )
    return stores


def _merged_info(stores: Sequence[EpisodeStore]) -> tuple[dict[str, Any], list[str]]:
    infos = [s.dataset_meta.get("info", {}) for s in stores]
    keys = sorted(set().union(*infos))
    common = {k: infos[0][k] for k in keys if all(k in i and i[k] == infos[0][k] for i in infos)}
    differing = [k for k in keys if k not in common]
    common.pop("plan", None)  # the merged store's own plan (its sources) replaces theirs
    common["merged_from"] = [
        {"path": str(s.root.resolve()), "info": info} for s, info in zip(stores, infos, strict=True)
    ]
    common["plan"] = {"merge": [str(s.root.resolve()) for s in stores]}
    return common, differing


def merge_stores(
    out: Path | str,
    sources: Sequence[Path | str],
    *,
    command: str | Sequence[str] | None = None,
    on_episode: Callable[[int, int], None] | None = None,
) -> MergeReport:
    """Copy every live episode of ``sources`` into the store at ``out`` (created, or resumed).

    Args:
        out: the merged store; if it exists it must be a merge of the same sources, in the same order.
        sources: episode stores with one schema, one ``info["source"]`` and one ``info["hand"]``.
        command: recorded as the merged store's producer (default ``sys.argv``).
        on_episode: called with (source number, source episode index) after each copied episode.

    Raises:
        ValueError: no sources, a source named twice, ``out`` among the sources, or sources of
            different kinds; ``PlanMismatchError`` (a ValueError) when ``out`` merges other sources.
        SchemaError: the sources' fields differ.
        StoreError: a source is not a store.
        EpisodeError: an episode of a source is damaged; it is not copied, the ones before it are,
            and a rerun (after ``dexndm data drop`` or a restore) goes on from there.
    """
    out = Path(out)
    paths = [Path(p) for p in sources]
    if any(p.resolve() == out.resolve() for p in paths):
        raise ValueError(f"the merged store {out} is also a source; write the merge to a new directory")
    stores = _open_sources(paths)
    info, differing = _merged_info(stores)
    existed = (out / META_FILE).exists()
    merged = EpisodeStore.create(
        out, stores[0].schema, command=command if command is not None else sys.argv,
        config={"sources": [str(p) for p in paths]}, info=info, exist_ok=True,
    )  # fmt: skip
    report = MergeReport(out, differing_info=differing)
    try:
        if existed:
            check_store_plan(
                merged, info["plan"], recorder="`dexndm data merge`",
                resume_advice="rerun the merge with the sources it was made from, in the same order,",
                new_out="merge into a new OUT",
            )  # fmt: skip
        for number, store in enumerate(stores):
            copied = present = 0
            for index in store.episode_indices():
                meta = store.meta(index)
                key = merged_key(number, meta["key"])
                if merged.has(key):
                    present += 1
                    continue
                arrays = store.load(index)  # verifies the sha256: a damaged episode is not copied
                merged.append(arrays, {**meta, "key": key, "merged_from": number, "merged_index": index})
                copied += 1
                if on_episode is not None:
                    on_episode(number, index)
            report.copied.append(copied)
            report.present.append(present)
    finally:
        merged.close()
    report.lengths = dict(sorted(Counter(r.steps for r in merged.records()).items()))
    return report
