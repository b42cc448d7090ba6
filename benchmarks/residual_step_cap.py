"""Base + residual on SimulatedReality under different caps on the sent target's step per tick.

The base alone moves a joint target at most 1/24 rad per control tick. A residual's correction
rides on top; until session 28 the deployed base + residual was capped at the same 1/24 rad, which
the residual's training (through the dynamics model) never modelled. This runs finished demo
runs' residuals (``dexndm demo --out RUN``) on their own reality cells and grasps, once per cap,
and reports rotation, time to fall, turning rate and the share of joint-steps whose wanted target
change the cap cut (``clipped``).

    .venv/bin/python benchmarks/residual_step_cap.py --runs out/demo --caps 0.041667 0.1

Each run's reality, objects, wrists, axes, episodes and seed come from its ``summary.json``; the
residual is ``RUN/residual/policy.onnx`` (else ``residual.pt``). Results: a table on stdout and
``OUT/step_cap.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from dexndm.hand import constants as C


def _residual_file(run: Path) -> Path:
    for name in ("policy.onnx", "residual.pt"):
        if (run / "residual" / name).exists():
            return run / "residual" / name
    raise FileNotFoundError(f"{run}/residual has no policy.onnx or residual.pt: is {run} a finished demo?")


def evaluate_run(run: Path, cap: float, episodes: int | None) -> dict[str, float]:
    """The run's residual on its reality cells with the target step capped at ``cap`` rad."""
    from dexndm.eval.policies import load_policy
    from dexndm.eval.reality_eval import evaluate_on_reality
    from dexndm.sim.grasp import GraspConfig

    cfg = json.loads((run / "summary.json").read_text())["config"]
    policy = load_policy(_residual_file(run), max_step_rad=cap)
    t0 = time.perf_counter()
    result = evaluate_on_reality(
        policy, profile=cfg["reality"], objects=cfg["objects"], wrists=cfg["wrists"], axes=cfg["axes"],
        episodes_per_cell=episodes or cfg["eval_episodes"], seed=cfg["seed"],
        episode_steps=cfg["episode_steps"], split="test",
        grasp=GraspConfig(candidates=cfg["grasp_candidates"]), grasp_cache_dir=cfg["grasp_cache_dir"],
        progress=False,
    )  # fmt: skip
    rows, overall = result.episodes, result.overall
    rot = np.array([r["rot"] for r in rows])
    steps = np.array([r["steps"] for r in rows])
    cells: dict[str, float] = {}
    for key in sorted({(r["wrist"], r["axis"]) for r in rows}):
        cells[" ".join(key)] = float(np.mean([r["rot"] for r in rows if (r["wrist"], r["axis"]) == key]))
    return {
        "cells_rot": cells,
        "cap_rad": cap,
        "rot": overall["rot_mean"],
        "rot_std": overall["rot_std"],
        "ttf_s": overall["ttf_mean"] * cfg["episode_steps"] * C.CONTROL_DT,
        "omega_k": float(rot.sum() / (steps.sum() * C.CONTROL_DT)),
        "clipped": policy.clipped_fraction,
        "episodes": len(rows),
        "wall_s": time.perf_counter() - t0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", nargs="+", type=Path, required=True, help="finished demo --out folders")
    parser.add_argument("--caps", nargs="+", type=float, default=[C.ACTION_SCALE, C.MAX_TARGET_STEP_RAD])
    parser.add_argument("--episodes", type=int, default=None, help="per cell (default: the run's)")
    parser.add_argument("--out", type=Path, default=Path("out/step_cap"))
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {}
    print("| run | cap (rad) | Rot (rad) | TTF (s) | omega.k (rad/s) | clipped | episodes |")
    print("|---|---|---|---|---|---|---|")
    for run in args.runs:
        results[str(run)] = []
        for cap in args.caps:
            r = evaluate_run(run, cap, args.episodes)
            results[str(run)].append(r)
            print(
                f"| {run} | {cap:.4f} | {r['rot']:.2f} +- {r['rot_std']:.2f} | {r['ttf_s']:.1f} | "
                f"{r['omega_k']:.3f} | {100 * r['clipped']:.1f}% | {r['episodes']} |",
                flush=True,
            )
        if len(results[str(run)][0]["cells_rot"]) > 1:
            print("\nRot (rad) by cell, one column per cap:")
            for cell in results[str(run)][0]["cells_rot"]:
                values = " | ".join(f"{r['cells_rot'][cell]:.2f}" for r in results[str(run)])
                print(f"| {cell} | {values} |")
            print()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "step_cap.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
