"""Which part of a reality profile's gap costs a policy its rotation.

Direct transfer (palm up, +z unless told) on a base profile and on variants of it that each close
one part of the gap: rubber fingertips (the mild profile's contact section), a fast bus (mild's
latencies), objects as light as the sim's, 550 mA motors, and all four together. Every variant
uses the same grasps and seed as the training-sim reference, so the "kept" column (real Rot / sim
Rot) is paired.

One more variant, "hand as mild", gives the profile mild's motors, bus and encoders and keeps its
contacts and masses: the nearest hand to the training sim's that the profiles describe (mild keeps
all of the shipped generalist's palm-up rotation, but 71% of the all-wrist base's in Table 4:
docs/results.md sections 2 and 2b). DexNDM's residual asks the real joints to move as the sim's
would, so the "/ as profile" column of that row is a reference for what such a correction can
give on that profile (not a strict bound: a residual may push harder than the sim's motors).

    .venv/bin/python benchmarks/gap_sensitivity.py                       # the default profile
    .venv/bin/python benchmarks/gap_sensitivity.py --base my_hand.toml --episodes 20
    .venv/bin/python benchmarks/gap_sensitivity.py --variants "as profile" "hand as mild" \
        --policy checkpoints/generalist_wrists/generalist.pt --wrists palm_up palm_down thumb_up \
        thumb_down base_up base_down                                     # the cells of Table 4

This is how the default profile's unmeasured estimates (fingertip friction, bus latency, object
mass) were checked against issue 4's 30-70% band: docs/results.md section 2.
A rerun with the same ``--out`` reuses the evaluations already there, if the same policy, cells,
episodes, seed and profile made them (else it stops and says which differ).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tyro

# the sibling script: running a benchmark puts benchmarks/ on sys.path
from direct_transfer import cached_cells, mean_by_cell, save_table

from dexndm.eval.evaluate import evaluate
from dexndm.eval.policies import load_policy
from dexndm.eval.reality_eval import evaluate_on_reality
from dexndm.reality.profile import RealityProfile, load_profile
from dexndm.sim.wrists_axes import PRINCIPAL_AXES


@dataclass
class Args:
    policy: str = "checkpoints/generalist/generalist.pt"
    base: str = "default"
    """The profile whose gap is taken apart (a shipped name or a TOML file)."""
    objects: tuple[str, ...] = ("normal_cylinder", "normal_cuboid")
    split: str = "test"
    episodes: int = 20
    """Episodes per object shape and cell."""
    wrists: tuple[str, ...] = ("palm_up",)
    axes: tuple[str, ...] = ("+z",)
    """Axis names or vectors; "principal" for +-x, +-y, +-z (Table 5; "-x" alone reads as a flag)."""
    variants: tuple[str, ...] = ()
    """Only these rows (names as in the table, e.g. "as profile" "hand as mild"); empty: all."""
    seed: int = 0
    seeds: tuple[int, ...] = ()
    """Several evaluation seeds (grasp draws), each into OUT/seedS, and a table of the mean over
    cells per seed with its mean +- std over seeds; empty: --seed alone, into OUT."""
    out: Path = Path("out/gap_sensitivity")


def variants(base: RealityProfile) -> dict[str, RealityProfile]:
    """The base and one variant per closed part of its gap, taken from the mild profile."""
    mild = load_profile("mild")
    closers: dict[str, dict[str, Any]] = {
        "rubber fingertips": {"contact": mild.contact},
        "fast bus": {"latency": mild.latency},
        "sim-weight objects": {"mass": {"object_mass_scale": 1.0, "object_inertia_scale": 1.0}},
        "550 mA": {"motor": {"current_limit_ma": 550.0}},
    }
    out = {"as profile": base}
    for name, change in closers.items():
        out[name] = _apply(base, change)
    everything = base
    for change in closers.values():
        everything = _apply(everything, change)
    out["all four"] = everything
    out["hand as mild"] = base.with_hand_of(mild)
    return out


def _apply(profile: RealityProfile, change: dict[str, Any]) -> RealityProfile:
    sections = {k: (v if isinstance(v, dict) else dataclasses.asdict(v)) for k, v in change.items()}
    return profile.replace(**sections)


def _by_cell(path: Path, run, expected: dict[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    """Rot and TTF (s) per (wrist, axis) of the evaluation in ``path``, run only if absent. A
    finished one is reused only if it was made with the ``expected`` settings (policy, cells,
    episodes, seed and, on a reality, the whole profile): never another run's numbers."""
    summary = path / "summary.json"
    if summary.exists():
        made = json.loads(summary.read_text())["config"]
        wanted = json.loads(json.dumps(expected))  # tuples as JSON lists, as the summary holds them
        differ = sorted(k for k, v in wanted.items() if made.get(k) != v)
        if differ:
            raise SystemExit(
                f"{path} holds an evaluation made with other {', '.join(differ)}: use another --out, "
                "or delete that folder to run it again"
            )
    return mean_by_cell(cached_cells(path, run))


def main(args: Args) -> None:
    axes = tuple(a for axis in args.axes for a in (PRINCIPAL_AXES if axis == "principal" else (axis,)))
    args = dataclasses.replace(args, axes=axes)
    policy = load_policy(args.policy)
    every = variants(load_profile(args.base))
    unknown = [v for v in args.variants if v not in every]
    if unknown:
        raise SystemExit(f"unknown --variants {unknown}; choose from {list(every)}")
    chosen = {k: v for k, v in every.items() if not args.variants or k in args.variants}
    if not args.seeds:
        run_seed(args, policy, chosen)
        return
    per_seed = [
        run_seed(dataclasses.replace(args, seed=seed, out=args.out / f"seed{seed}"), policy, chosen)
        for seed in args.seeds
    ]
    save_table(args.out, seeds_table(per_seed, args.seeds) + [
        "",
        f"{args.policy} on `{args.base}`; {len(per_seed[0][2])} cells, {','.join(args.objects)} "
        f"({args.split} split), seeds {' '.join(map(str, args.seeds))}: each seed's Rot is its mean over "
        "cells; the last columns are mean +- sample std over seeds. Per seed: OUT/seedS/table.md.",
    ])  # fmt: skip


def seeds_table(per_seed: list[tuple], seeds: tuple[int, ...]) -> list[str]:
    """Markdown: per variant, each seed's mean-over-cells Rot and its ratio to "as profile"."""
    cells = per_seed[0][2]

    def mean(r: dict[tuple[str, str], dict[str, float]]) -> float:
        return sum(r[c]["rot"] for c in cells) / len(cells)

    names = ["training sim", *per_seed[0][1]]
    lines = [
        "| profile variant | " + " | ".join(f"Rot, seed {s}" for s in seeds)
        + " | Rot | / as profile per seed | / as profile |",
        "|---|" + "---|" * (len(seeds) + 3),
    ]  # fmt: skip
    for name in names:
        rots = [mean(sim if name == "training sim" else rows[name]) for sim, rows, _ in per_seed]
        ratios = (
            [mean(rows[name]) / mean(rows["as profile"]) for _, rows, _ in per_seed]
            if name != "training sim" and "as profile" in per_seed[0][1]
            else []
        )
        lines.append(
            f"| {name} | " + " | ".join(f"{r:.2f}" for r in rots) + f" | {_mean_std(rots)} | "
            + ", ".join(f"{r:.2f}x" for r in ratios) + f" | {_mean_std(ratios, 'x') if ratios else ''} |"
        )  # fmt: skip
    # and per cell, each variant's Rot as mean over seeds
    lines += ["", "| cell | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    rows_of = [{"training sim": sim, **rows} for sim, rows, _ in per_seed]
    for c in cells:
        rots = [statistics.mean(r[name][c]["rot"] for r in rows_of) for name in names]
        lines.append(f"| {c[0]} {c[1]} | " + " | ".join(f"{r:.2f}" for r in rots) + " |")
    return lines


def _mean_std(values: list[float], unit: str = "") -> str:
    if len(values) < 2:
        return f"{values[0]:.2f}{unit}"
    return f"{statistics.mean(values):.2f}{unit} +- {statistics.stdev(values):.2f}"


def run_seed(
    args: Args, policy: Any, chosen: dict[str, RealityProfile]
) -> tuple[dict, dict, list[tuple[str, str]]]:
    """``policy`` in the sim and on every ``chosen`` variant at ``args.seed`` into ``args.out``;
    returns (sim, rows, cells)."""
    common: dict[str, Any] = dict(
        objects=args.objects, wrists=args.wrists, axes=args.axes, episodes_per_cell=args.episodes,
        seed=args.seed, split=args.split, progress=False,
    )  # fmt: skip
    t0 = time.perf_counter()
    made_with = {k: common[k] for k in ("objects", "wrists", "axes", "episodes_per_cell", "seed", "split")}
    made_with["policy"] = repr(policy)
    sim = _by_cell(args.out / "sim", lambda p: evaluate(policy, out_dir=p, num_envs=50, **common), made_with)
    cells = [(w, a) for w in args.wrists for a in args.axes]
    rows: dict[str, dict[tuple[str, str], dict[str, float]]] = {}
    for name, profile in chosen.items():
        slug = name.replace(" ", "_")

        def run(path: Path, pr: RealityProfile = profile) -> None:
            evaluate_on_reality(policy, profile=pr, out_dir=path, **common)

        rows[name] = _by_cell(args.out / slug, run, {**made_with, "reality": dataclasses.asdict(profile)})
        mean_rot = sum(rows[name][c]["rot"] for c in cells) / len(cells)
        print(f"{name:>20}: Rot {mean_rot:.2f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    paired = None
    if "as profile" in rows:  # the same grasps on the profile itself: pair every row with it
        direct = args.out / "as_profile"
        paired = {name: paired_difference(direct, args.out / name.replace(" ", "_")) for name in rows}
    save_table(args.out, table(sim, rows, cells, paired) + [
        "",
        f"{args.policy} on `{args.base}` and variants closing one part of its gap (from the mild "
        f"profile); {', '.join(f'{w} {a}' for w, a in cells)}; {','.join(args.objects)} ({args.split} "
        f"split), {sim[cells[0]]['n']} episodes per cell and row, seed {args.seed}, same grasps in every "
        f"row. Wall time {time.perf_counter() - t0:.0f} s.",
    ])  # fmt: skip
    return sim, rows, cells


def paired_difference(direct: Path, variant: Path) -> tuple[float, float]:
    """Mean and standard error over episodes of (variant Rot - direct Rot), episodes paired by
    object, cell and index: both rows ran the same grasps with the same seed."""

    def by_episode(path: Path) -> dict[tuple[str, ...], float]:
        with (path / "episodes.csv").open(newline="") as f:
            return {
                (r["object"], r["wrist"], r["axis"], r["episode"]): float(r["rot"]) for r in csv.DictReader(f)
            }

    a, b = by_episode(direct), by_episode(variant)
    if a.keys() != b.keys():
        raise SystemExit(f"{direct} and {variant} hold different episodes: delete one and rerun")
    d = np.array([b[k] - a[k] for k in a])
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else math.nan


def table(
    sim: dict[tuple[str, str], dict[str, float]],
    rows: dict[str, dict[tuple[str, str], dict[str, float]]],
    cells: list[tuple[str, str]],
    paired: dict[str, tuple[float, float]] | None = None,
) -> list[str]:
    """Markdown: Rot per cell, the mean over cells, kept (mean / sim's mean) and, when the
    "as profile" row ran, each row's mean over that row's (its gain over direct transfer) and the
    paired per-episode difference from it (mean +- standard error, rad)."""

    def mean(r: dict[tuple[str, str], dict[str, float]], key: str) -> float:
        return sum(r[c][key] for c in cells) / len(cells)

    heads = [f"{w} {a}" for w, a in cells] if len(cells) > 1 else []
    lines = [
        "| profile variant | "
        + " | ".join(heads + ["Rot", "TTF s", "kept", "/ as profile", "- as profile, paired (rad)"])
        + " |",
        "|---|" + "---|" * (len(heads) + 5),
    ]
    direct = rows.get("as profile")
    for name, r in [("training sim", sim), *rows.items()]:
        per_cell = [f"{r[c]['rot']:.2f}" for c in cells] if heads else []
        kept = "" if r is sim else f"{mean(r, 'rot') / mean(sim, 'rot'):.0%}"
        gain = "" if r is sim or direct is None else f"{mean(r, 'rot') / mean(direct, 'rot'):.2f}x"
        diff = ""
        if paired is not None and r is not sim and name != "as profile":
            diff = "{:+.3f} +- {:.3f}".format(*paired[name])
        values = per_cell + [f"{mean(r, 'rot'):.2f}", f"{mean(r, 'ttf_s'):.1f}", kept, gain, diff]
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    return lines


if __name__ == "__main__":
    main(tyro.cli(Args))
