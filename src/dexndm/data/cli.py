"""``dexndm data`` verbs: verify, info, drop, merge. Plain functions, and ``DataCmd`` for ``dexndm.cli``.

Arguments are marked ``tyro.conf.Positional`` so that ``tyro`` gives the command lines below (the
fix hints in ``dexndm.data.verify.DROP_COMMAND`` quote that form). Output goes to stdout via rich.

Examples::

    dexndm data verify runs/real/episodes     # exit code 0 if every episode is intact
    dexndm data info runs/real/episodes       # counts per wrist orientation, mode, noise, ...
    dexndm data drop runs/real/episodes 17    # retire episode 17; a rerun collector redoes its key
    dexndm data merge runs/real_all runs/real_round0 runs/real_round1   # one store to fit on
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import tyro
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from tyro.conf import Positional

from dexndm.data.manifest import ManifestError
from dexndm.data.merge import merge_stores
from dexndm.data.schema import SchemaError
from dexndm.data.store import META_FILE, EpisodeError, EpisodeStore, StoreError
from dexndm.hand import constants as C

MAX_VALUES_SHOWN = 20
"""``data_info`` tabulates a metadata key only if it has at most this many distinct values."""


def _open(root: Path, console: Console, *, readonly: bool) -> EpisodeStore | None:
    try:
        return EpisodeStore(root, readonly=readonly)
    except (StoreError, SchemaError, ManifestError) as e:
        console.print(f"[red]error:[/red] {e}")
        return None


def _joint_label(joint: int) -> str:
    return f"{C.JOINT_NAMES[joint]} ({joint})" if joint < len(C.JOINT_NAMES) else str(joint)


def _worst_joint(per_joint: np.ndarray, limit: float) -> tuple[int, float] | None:
    """``(joint, value)`` of the largest entry of ``per_joint`` (T, J) if it is above ``limit``."""
    if per_joint.size and per_joint.max() > limit:
        return int(per_joint.max(axis=0).argmax()), float(per_joint.max())
    return None


def fastest_joint_step(
    joint_pos: np.ndarray, limit: float = C.MAX_PLAUSIBLE_JOINT_STEP_RAD
) -> tuple[int, float] | None:
    """``(joint, step)`` of an episode's largest one-step change of ``joint_pos`` (T, J) if it is
    more than ``limit`` rad, else None."""
    return _worst_joint(np.abs(np.diff(joint_pos, axis=0)), limit)


def furthest_past_stop(
    joint_pos: np.ndarray, limit: float = C.JOINT_STOP_OVERRUN_RAD
) -> tuple[int, float] | None:
    """``(joint, overrun)`` of the joint an episode's ``joint_pos`` (T, 16) takes furthest past its
    range if that is more than ``limit`` rad, else None."""
    return _worst_joint(np.maximum(joint_pos - C.JOINT_UPPER, C.JOINT_LOWER - joint_pos), limit)


def data_verify(root: Positional[Path]) -> int:
    """Check every episode of the store at ``root`` and print a table of problems.

    Read-only: it repairs nothing, so it is safe while a collector is writing.

    Returns:
        Exit code: 0 if all episodes are intact, 1 if any is damaged, 2 if the store cannot be opened.
    """
    console = Console()
    store = _open(root, console, readonly=True)
    if store is None:
        return 2
    # The joint checks ride on the integrity pass, so each episode is read once.
    fast_steps: list[tuple[int, int, float]] = []
    past_stops: list[tuple[int, int, float]] = []

    def check_joints(index: int, arrays: dict[str, np.ndarray]) -> None:
        q = arrays.get("joint_pos")
        if q is None or q.ndim != 2 or q.shape[1] != C.NUM_JOINTS:
            return
        if found := fastest_joint_step(q):
            fast_steps.append((index, *found))
        if found := furthest_past_stop(q):
            past_stops.append((index, *found))

    report = store.verify(on_intact=check_joints)
    if report.problems:
        table = Table(title=f"Damaged episodes in {root}")
        table.add_column("episode", justify="right")
        table.add_column("file")
        table.add_column("problem")
        for p in report.problems:
            table.add_row(str(p.index), p.file, p.message.split(": ", 1)[1])
        console.print(table)
    if report.orphans:
        console.print(
            f"[yellow]{len(report.orphans)} orphan file(s)[/yellow] (uncommitted; ignored, removed "
            f"on the next writable open): {', '.join(report.orphans)}"
        )
    if report.torn_manifest_tail:
        console.print(
            "[yellow]manifest ends in a torn line[/yellow] (ignored; truncated on the next writable open)"
        )
    for index, joint, size in fast_steps:
        console.print(
            f"[yellow]episode {index}[/yellow]: joint {_joint_label(joint)} moves {size:.2f} rad in one "
            f"step, more than a LEAP motor can ({C.MAX_PLAUSIBLE_JOINT_STEP_RAD:.2f}): an encoder misread "
            f"or a physics artefact; kept (drop it with `dexndm data drop {root} {index}` if you do not "
            "want it)"
        )
    for index, joint, size in past_stops:
        console.print(
            f"[yellow]episode {index}[/yellow]: joint {_joint_label(joint)} goes {size:.2f} rad past its "
            f"stop (more than {C.JOINT_STOP_OVERRUN_RAD:.2f}): a finger forced through its limit, which "
            "a LEAP hand cannot do (a simulated hand's physics broke; SimulatedReality now resets "
            f"instead); kept (drop it with `dexndm data drop {root} {index}` if you do not want it)"
        )
    verdict = "[green]ok[/green]" if report.ok else f"[red]{len(report.problems)} damaged[/red]"
    console.print(f"{root}: {report.checked} episodes checked, {verdict}, {len(report.dropped)} dropped")
    return 0 if report.ok else 1


def data_info(root: Positional[Path]) -> dict[str, Counter[str]]:
    """Print a store's size, schema, producer and episode counts per metadata value.

    Returns:
        ``{meta key: Counter(value as JSON text -> episodes)}`` for every key except ``key``
        (empty Counter when the key has more than ``MAX_VALUES_SHOWN`` distinct values).
    """
    console = Console()
    store = _open(root, console, readonly=True)
    if store is None:
        return {}
    records = store.records()
    meta = store.dataset_meta
    producer = meta.get("producer", {})
    console.print(
        f"[bold]{root}[/bold]: {len(records)} episodes, {sum(r.steps for r in records)} steps, "
        f"{len(store.dropped_indices())} dropped; created {meta.get('created')} "
        f"by `{producer.get('command')}`"
    )
    schema = Table(title="fields (per step)")
    schema.add_column("field")
    schema.add_column("shape")
    schema.add_column("dtype")
    for name, spec in store.schema.items():
        schema.add_row(name, str(spec.shape), spec.dtype)
    console.print(schema)

    counts: dict[str, Counter[str]] = {}
    for rec in records:
        for k, v in rec.meta.items():
            if k != "key":
                counts.setdefault(k, Counter())[_value_text(v)] += 1
    for k in sorted(counts):
        c = counts[k]
        if len(c) > MAX_VALUES_SHOWN:
            console.print(f"{k}: {len(c)} distinct values")
            counts[k] = Counter()
            continue
        table = Table(title=k)
        table.add_column("value")
        table.add_column("episodes", justify="right")
        for value, n in sorted(c.items()):
            table.add_row(value, str(n))
        console.print(table)
    return counts


def data_drop(root: Positional[Path], index: Positional[int], reason: str = "dropped by hand") -> int:
    """Retire episode ``index`` by appending a tombstone to the manifest (nothing is deleted).

    Returns:
        Exit code: 0 on success, 2 if the store cannot be opened, is being written by another
        process, or has no live episode ``index``.
    """
    console = Console()
    store = _open(root, console, readonly=False)
    if store is None:
        return 2
    try:
        key = store.record(index).key
        store.drop(index, reason)
    except (KeyError, StoreError) as e:
        console.print(f"[red]error:[/red] {e.args[0] if isinstance(e, KeyError) else e}")
        return 2
    finally:
        store.close()
    console.print(f"dropped episode {index} (key {key!r}); rerunning the collector collects that key again")
    return 0


def data_merge(out: Positional[Path], sources: Positional[tuple[Path, ...]]) -> int:
    """Merge the episode stores ``sources`` into the store ``out`` (see ``dexndm.data.merge``).

    Returns:
        Exit code: 0 on success (also when there was nothing new to copy), 2 if a source cannot be
        opened, the sources cannot be merged, or ``out`` holds another merge.
    """
    console = Console()
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console, transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task("copying episodes")
            report = merge_stores(out, sources, on_episode=lambda *_: progress.advance(task))
    except (ValueError, StoreError, EpisodeError, SchemaError, ManifestError) as e:
        console.print(f"[red]error:[/red] {e}")
        return 2
    counts = zip(sources, report.copied, report.present, strict=True)
    for number, (path, copied, present) in enumerate(counts):
        console.print(f"src{number} {path}: {copied} copied, {present} already merged")
    if report.differing_info:
        console.print(
            f"the sources differ in {', '.join(report.differing_info)}: each source's own info is kept "
            f"under merged_from in {out / META_FILE}"
        )
    if report.unused_steps > 0.01:
        console.print(
            f"[yellow]episodes of different lengths[/yellow] {report.lengths} (steps: episodes): "
            f"trainers cut every episode to the shortest, leaving out {100 * report.unused_steps:.0f}% "
            "of the steps; merge stores whose episodes have one length"
        )
    console.print(f"{out}: {report.total} episodes")
    return 0


def _value_text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


# ---- the `dexndm data` command group (tyro dataclasses around the functions above) -----------
@dataclass
class VerifyCmd:
    """Check every episode (size, sha256, readable, schema); name the damaged ones. Exit 1 if any."""

    root: Positional[Path]
    """The episode store directory."""

    def run(self) -> int:
        return data_verify(self.root)


@dataclass
class InfoCmd:
    """Print a store's size, schema, producer and episode counts per metadata value."""

    root: Positional[Path]
    """The episode store directory."""

    def run(self) -> int:
        data_info(self.root)
        return 0 if (self.root / META_FILE).is_file() else 2


@dataclass
class DropCmd:
    """Retire one episode (a tombstone; the file stays); a rerun collector collects its key again."""

    root: Positional[Path]
    """The episode store directory."""
    index: Positional[int]
    """The episode's index (as ``verify`` names it)."""
    reason: str = "dropped by hand"

    def run(self) -> int:
        return data_drop(self.root, self.index, self.reason)


@dataclass
class MergeCmd:
    """Merge episode stores into one (e.g. every on-policy round so far); a rerun copies what is new."""

    out: Positional[Path]
    """The merged store (created, or resumed when it merges the same sources)."""
    sources: Positional[tuple[Path, ...]]
    """The stores to merge, in order; keys are prefixed src0/, src1/, ... by position."""

    def run(self) -> int:
        return data_merge(self.out, self.sources)


DataCommands = (
    Annotated[VerifyCmd, tyro.conf.subcommand("verify")]
    | Annotated[InfoCmd, tyro.conf.subcommand("info")]
    | Annotated[DropCmd, tyro.conf.subcommand("drop")]
    | Annotated[MergeCmd, tyro.conf.subcommand("merge")]
)


@dataclass
class DataCmd:
    """Inspect, repair and combine episode stores: verify, info, drop, merge."""

    verb: tyro.conf.OmitSubcommandPrefixes[DataCommands]  # type: ignore[valid-type]

    def run(self) -> int:
        return self.verb.run()
