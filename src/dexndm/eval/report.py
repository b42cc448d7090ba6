"""Evaluation output: CSV / JSON files with sidecars, and the rich table.

Files (in ``out_dir``):
    ``episodes.csv``: one row per episode (``EvalResult.episodes``).
    ``summary.csv``: one row per cell, ``<metric>_mean`` / ``<metric>_std`` and ``n``.
    ``summary.json``: ``{"cells": [...], "overall": {...}, "config": {...}, "wall_s": s}``.
Each gets a ``<file>.json`` sidecar (``dexndm.data.artifacts.write_sidecar``).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

from dexndm.data.artifacts import json_default, write_sidecar
from dexndm.data.atomic import atomic_write_text

if TYPE_CHECKING:
    from dexndm.eval.evaluate import EvalResult

TABLE_COLUMNS = (
    ("RotR", "rot_r"), ("RotP", "rot_p"), ("TTF", "ttf"), ("Rot rad", "rot"),
    ("ω rad/s", "omega_k"), ("GO", "go_succ"),
)  # fmt: skip
"""(header, metric) pairs of the printed table."""


NO_GAP_SHARE = 0.05
"""A reality that keeps 95% of the sim's Rot has no gap a 10-episode cell can tell from noise."""


def gap_closed(rot: float, direct: float, sim: float) -> float | None:
    """The share of the sim-to-real gap a policy closes, (rot - direct) / (sim - direct), from the
    Rot of the policy on the reality, of the base on the reality and of the base in the training
    sim (issue 5's headline); None when the base transfers without a gap, or the reality turns
    the object further than the sim does (then there is no gap to close, and a ratio over a
    negative gap reads as its opposite). A gap under ``NO_GAP_SHARE`` of the sim's Rot counts as
    none: dividing by a few mrad turned a 0.2 rad gain into "5227%" in a Table 4 cell."""
    gap = sim - direct
    return (rot - direct) / gap if gap > max(NO_GAP_SHARE * abs(sim), 1e-9) else None


def rot_ratio(rot: float, direct: float) -> float | None:
    """A policy's Rot on the reality over the base's (direct transfer's): the issue's ``1.5x``.
    None when the base turns the object by ~0 or the wrong way: a ratio over a negative Rot reads
    as its opposite (less wrong-way rotation would score below 1x)."""
    return rot / direct if direct > 1e-3 else None


def format_rot_ratio(rot: float, direct: float, unit: str = "x") -> str:
    """:func:`rot_ratio` for a results table: ``1.23x``, or ``-`` where there is no ratio.

    ``unit=""`` drops the ``x`` for a list of per-seed ratios under a header that already says it.
    """
    ratio = rot_ratio(rot, direct)
    return "-" if ratio is None else f"{ratio:.2f}{unit}"


def format_gap_closed(rot: float, direct: float, sim: float) -> str:
    """:func:`gap_closed` for a results table: a percentage, or ``-`` where there is no gap."""
    closed = gap_closed(rot, direct, sim)
    return "-" if closed is None else f"{closed:.0%}"


def paired_difference(
    a: list[dict[str, Any]], b: list[dict[str, Any]], metric: str = "rot"
) -> dict[str, float] | None:
    """Mean and standard error of ``a - b`` in ``metric`` over the episodes two evaluations share.

    Rows of two policies on the same grasps (same cells, seed and episode index, as every
    reality row of a ``dexndm demo`` run) differ by the policy alone, so their episode-by-episode
    difference leaves out what each grasp alone decides, and its standard error is the one to
    judge a gain by (docs/results.md 4o: up to 46% narrower than the unpaired one). Episodes are
    matched by their cell labels and index; None when fewer than two match (no standard error).
    """
    import math

    def key(row: dict[str, Any]) -> tuple[str, ...]:
        return (row["object"], row["wrist"], row["axis"], str(row["episode"]))

    theirs = {key(r): float(r[metric]) for r in b}
    diffs = [float(r[metric]) - theirs[key(r)] for r in a if key(r) in theirs]
    n = len(diffs)
    if n < 2:
        return None
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1)
    return {"mean": mean, "se": math.sqrt(var / n), "n": n}


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


def write_result(
    result: EvalResult, out_dir: Path, command: str | list[str] | None = None
) -> dict[str, Path]:
    """Write the three files and their sidecars; returns ``{"episodes"|"summary_csv"|"summary_json": path}``.

    Args:
        command: recorded in the sidecars; ``None`` records ``sys.argv``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "episodes": atomic_write_text(out_dir / "episodes.csv", _csv_text(result.episodes)),
        "summary_csv": atomic_write_text(out_dir / "summary.csv", _csv_text(result.summary)),
        "summary_json": atomic_write_text(
            out_dir / "summary.json",
            json.dumps(
                {"cells": result.summary, "overall": result.overall, "config": result.config,
                 "wall_s": result.wall_s},
                indent=2, default=json_default,
            ) + "\n",
        ),
    }  # fmt: skip
    for path in paths.values():
        write_sidecar(path, command=command, config=result.config)
    return {k: Path(p) for k, p in paths.items()}


def write_pooled(
    result: EvalResult, by: tuple[str, ...] | list[str], out_dir: Path, command: str | list[str] | None = None
) -> Path:
    """``summary_by_<labels>.csv`` (+ sidecar): ``result.pooled(by)``, one row per pooled cell."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = atomic_write_text(out_dir / f"summary_by_{'_'.join(by)}.csv", _csv_text(result.pooled(by)))
    write_sidecar(path, command=command, config={**result.config, "pooled_by": list(by)})
    return Path(path)


def pooled_table(result: EvalResult, by: tuple[str, ...] | list[str]) -> Table:
    """The table of ``result.pooled(by)``; its caption counts the cells turning the right way
    (mean omega . k > 0), the issue's criterion for the wrist x axis table."""
    rows = result.pooled(by)
    right_way = sum(r["omega_k_mean"] > 0 for r in rows)
    table = Table(
        box=box.HEAVY_HEAD,
        title=f"{result.config.get('policy', 'policy')}: pooled by {', '.join(by)}",
        caption=f"mean ω·k > 0 in {right_way} of {len(rows)} cells",
    )
    for name in (*by, "n"):
        table.add_column(name, justify="right" if name == "n" else "left", no_wrap=True)
    for header, _ in TABLE_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(
            *(str(row[k]) for k in by), str(row["n"]), *(_cell(row, m, False) for _, m in TABLE_COLUMNS)
        )
    return table


def _cell(stats: dict[str, Any], metric: str, two_lines: bool) -> str:
    mean, std = stats[f"{metric}_mean"], stats[f"{metric}_std"]
    return f"{mean:.2f}\n±{std:.2f}" if two_lines else f"{mean:.3f}±{std:.2f}"


def result_table(result: EvalResult, two_lines: bool = False) -> Table:
    """Rows: cells, then ``all``; columns: mean ± std of RotR, RotP, TTF, Rot, omega.k, GO.

    Args:
        two_lines: the std under the mean, so that the table fits an 80-column terminal.
    """
    cfg = result.config
    table = Table(
        box=box.SIMPLE_HEAD if two_lines else box.HEAVY_HEAD,
        pad_edge=not two_lines,
        collapse_padding=two_lines,
        title=f"{cfg.get('policy', 'policy')}: {cfg.get('episodes_per_cell')} episodes per cell, "
        f"{result.wall_s:.1f} s",
        caption="RotR: sum of ω·k (rad/s); RotP: mean |ω×k| (rad/s, lower is better); TTF: fraction of "
        "the episode held; GO: goal-orientation success",
    )

    def label(text: str) -> str:
        # a 'x,y,z' axis or 'w,x,y,z' wrist stacks its numbers when the table must be narrow
        return text.replace(",", ",\n") if two_lines and "," in text else text

    for name in ("object", "wrist", "axis", "n"):
        table.add_column(name, justify="right" if name == "n" else "left", no_wrap=True)
    for header, _ in TABLE_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    for row in result.summary:
        table.add_row(
            row["object"], label(row["wrist"]), label(row["axis"]), str(row["n"]),
            *(_cell(row, m, two_lines) for _, m in TABLE_COLUMNS),
        )  # fmt: skip
    if len(result.summary) > 1:
        table.add_section()
        overall = (_cell(result.overall, m, two_lines) for _, m in TABLE_COLUMNS)
        table.add_row("all", "", "", str(result.overall["n"]), *overall)
    return table
