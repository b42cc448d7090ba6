"""Direct transfer: a proprioceptive policy in the training sim and, unchanged, on each reality profile.

The cells of issue 4's table: the z axis at each of the six wrist orientations, and palm down
about +-x/+-y/+-z (palm down +z is in both lists, so 11 cells). For every cell the same grasps
(same seed) are evaluated in the training sim (nominal physics) and on SimulatedReality under each
profile; the table gives Rot (rad turned about the axis per episode), TTF (s held of the 20 s
episode) and the retention real Rot / sim Rot.

    .venv/bin/python benchmarks/direct_transfer.py                          # mild, default, harsh
    .venv/bin/python benchmarks/direct_transfer.py --profiles default my_hand.toml --episodes 20

Results per run go to ``--out`` (one evaluation directory per profile, ``sim`` for the training
sim); a rerun with the same ``--out`` reuses the evaluations already there, so an interrupted run
resumes. ``table.md`` holds the markdown table.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tyro

from dexndm.eval.evaluate import evaluate
from dexndm.eval.policies import load_policy
from dexndm.eval.reality_eval import evaluate_on_reality
from dexndm.hand import constants as C

WRISTS_Z = ("palm_up", "palm_down", "thumb_up", "thumb_down", "base_up", "base_down")
PALM_DOWN_AXES = ("+x", "-x", "+y", "-y", "+z", "-z")
MIN_HELD_S = 5.0
"""Mean sim TTF (s) below which a cell's retention is not computed."""


@dataclass
class Args:
    policy: str = "checkpoints/generalist/generalist.pt"
    """A proprioceptive policy: a generalist checkpoint, an exported ONNX, or 'hold'."""
    profiles: tuple[str, ...] = ("mild", "default", "harsh")
    """Shipped profile names or TOML files."""
    objects: tuple[str, ...] = ("normal_cylinder",)
    """Categories (their ``split`` shapes), object names or mesh paths."""
    split: str = "test"
    episodes: int = 10
    """Episodes per (object shape, wrist, axis) cell, in the sim and on each profile."""
    seed: int = 0
    out: Path = Path("out/direct_transfer")
    cells: tuple[str, ...] = field(default_factory=lambda: ())
    """Restrict to these cells, each 'wrist:axis' (default: issue 4's 11 cells)."""


def issue4_cells() -> list[tuple[str, str]]:
    cells = [(w, "+z") for w in WRISTS_Z] + [("palm_down", a) for a in PALM_DOWN_AXES]
    return list(dict.fromkeys(cells))


def cached_cells(path: Path, run) -> list[dict[str, Any]]:
    """The per-cell summary rows of the evaluation in ``path``, running it only if absent."""
    summary = path / "summary.json"
    if not summary.exists():
        run(path)
    return json.loads(summary.read_text())["cells"]


def mean_by_cell(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    """Mean Rot and TTF (s) per (wrist, axis) over object shapes (each shape weighs its episodes)."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for key in {(r["wrist"], r["axis"]) for r in rows}:
        sel = [r for r in rows if (r["wrist"], r["axis"]) == key]
        n = np.array([r["n"] for r in sel], dtype=float)
        out[key] = {
            "rot": float(np.average([r["rot_mean"] for r in sel], weights=n)),
            "ttf_s": float(np.average([r["ttf_mean"] for r in sel], weights=n)) * 400 * C.CONTROL_DT,
            "n": int(n.sum()),
        }
    return out


def save_table(out: Path, lines: list[str]) -> None:
    """Write a markdown table to ``out/table.md`` and print it."""
    text = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(text)
    print(text)


def main(args: Args) -> None:
    policy = load_policy(args.policy)
    cells = issue4_cells()
    if args.cells:
        cells = [tuple(c.split(":", 1)) for c in args.cells]  # type: ignore[misc]
    t0 = time.perf_counter()
    per_source: dict[str, dict[tuple[str, str], dict[str, float]]] = {}
    sources = ["sim", *args.profiles]
    for source in sources:
        name = Path(source).stem if source.endswith(".toml") else source
        rows: list[dict[str, Any]] = []
        for wrist, axis in cells:
            path = args.out / name / f"{wrist}_{axis}"
            common = dict(
                objects=args.objects, wrists=(wrist,), axes=(axis,), episodes_per_cell=args.episodes,
                seed=args.seed, split=args.split, progress=False,
            )  # fmt: skip
            if source == "sim":
                rows += cached_cells(path, lambda p, c=common: evaluate(policy, out_dir=p, num_envs=50, **c))
            else:
                rows += cached_cells(
                    path, lambda p, c=common, s=source: evaluate_on_reality(policy, profile=s, out_dir=p, **c)
                )
            print(f"{name:>10} {wrist:>10} {axis}: done ({time.perf_counter() - t0:.0f} s)", flush=True)
        per_source[name] = mean_by_cell(rows)

    names = [Path(s).stem if s.endswith(".toml") else s for s in args.profiles]
    head = "| wrist | axis | sim Rot | sim TTF s | " + " | ".join(
        f"{n} Rot | {n} TTF s | {n} kept" for n in names
    )
    lines = [head + " |", "|" + "---|" * (4 + 3 * len(names))]
    for key in cells:
        sim = per_source["sim"][key]
        row = [key[0], key[1], f"{sim['rot']:.2f}", f"{sim['ttf_s']:.1f}"]
        for n in names:
            r = per_source[n][key]
            # a ratio means something only where the policy turns and holds in sim: an object that
            # falls in the first seconds "turns" while it tumbles out of the hand
            held = sim["rot"] > 0.2 and sim["ttf_s"] >= MIN_HELD_S
            kept = f"{r['rot'] / sim['rot']:.0%}" if held else "n/a"
            row += [f"{r['rot']:.2f}", f"{r['ttf_s']:.1f}", kept]
        lines.append("| " + " | ".join(row) + " |")
    n_ep = per_source["sim"][cells[0]]["n"]
    lines.append("")
    lines.append(
        f"{args.policy}, {','.join(args.objects)} ({args.split} split), {n_ep} episodes per cell "
        f"per source, seed {args.seed}; 'kept' = real Rot / sim Rot (n/a where sim Rot < 0.2 rad or sim "
        f"TTF < {MIN_HELD_S:g} s). "
        f"Wall time {time.perf_counter() - t0:.0f} s."
    )
    save_table(args.out, lines)


if __name__ == "__main__":
    main(tyro.cli(Args))
