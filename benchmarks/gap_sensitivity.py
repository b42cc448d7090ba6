"""Which part of a reality profile's gap costs a policy its rotation.

Direct transfer (palm up, +z) on a base profile and on variants of it that each close one part of
the gap: rubber fingertips (the mild profile's contact section), a fast bus (mild's latencies),
objects as light as the sim's, 550 mA motors, and all four together. Every variant uses the same
grasps and seed as the training-sim reference, so the "kept" column (real Rot / sim Rot) is paired.

    .venv/bin/python benchmarks/gap_sensitivity.py                       # the default profile
    .venv/bin/python benchmarks/gap_sensitivity.py --base my_hand.toml --episodes 20

This is how the default profile's unmeasured estimates (fingertip friction, bus latency, object
mass) were checked against issue 4's 30-70% band: docs/results.md section 2.
A rerun with the same ``--out`` reuses the evaluations already there.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tyro

# the sibling script: running a benchmark puts benchmarks/ on sys.path
from direct_transfer import cached_cells, mean_by_cell, save_table

from dexndm.eval.evaluate import evaluate
from dexndm.eval.policies import load_policy
from dexndm.eval.reality_eval import evaluate_on_reality
from dexndm.reality.profile import RealityProfile, load_profile


@dataclass
class Args:
    policy: str = "checkpoints/generalist/generalist.pt"
    base: str = "default"
    """The profile whose gap is taken apart (a shipped name or a TOML file)."""
    objects: tuple[str, ...] = ("normal_cylinder", "normal_cuboid")
    split: str = "test"
    episodes: int = 20
    """Episodes per object shape."""
    seed: int = 0
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
    return out


def _apply(profile: RealityProfile, change: dict[str, Any]) -> RealityProfile:
    sections = {k: (v if isinstance(v, dict) else dataclasses.asdict(v)) for k, v in change.items()}
    return profile.replace(**sections)


def _summary(path: Path, run) -> dict[str, float]:
    """Rot and TTF (s) over all shapes of the palm-up +z evaluation in ``path``, run only if absent."""
    return mean_by_cell(cached_cells(path, run))[("palm_up", "+z")]


def main(args: Args) -> None:
    policy = load_policy(args.policy)
    base = load_profile(args.base)
    common: dict[str, Any] = dict(
        objects=args.objects, wrists=("palm_up",), axes=("+z",), episodes_per_cell=args.episodes,
        seed=args.seed, split=args.split, progress=False,
    )  # fmt: skip
    t0 = time.perf_counter()
    sim = _summary(args.out / "sim", lambda p: evaluate(policy, out_dir=p, num_envs=50, **common))
    rows = []
    for name, profile in variants(base).items():
        slug = name.replace(" ", "_")

        def run(path: Path, pr: RealityProfile = profile) -> None:
            evaluate_on_reality(policy, profile=pr, out_dir=path, **common)

        r = _summary(args.out / slug, run)
        rows.append((name, r))
        print(f"{name:>20}: Rot {r['rot']:.2f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    lines = [
        "| profile variant | Rot | TTF s | kept |",
        "|---|---|---|---|",
        f"| training sim | {sim['rot']:.2f} | {sim['ttf_s']:.1f} | |",
    ]
    for name, r in rows:
        lines.append(f"| {name} | {r['rot']:.2f} | {r['ttf_s']:.1f} | {r['rot'] / sim['rot']:.0%} |")
    lines += [
        "",
        f"{args.policy} on `{args.base}` and variants closing one part of its gap (from the mild "
        f"profile); palm up +z, {','.join(args.objects)} ({args.split} split), {sim['n']} episodes "
        f"per row, seed {args.seed}, same grasps in every row. Wall time {time.perf_counter() - t0:.0f} s.",
    ]
    save_table(args.out, lines)


if __name__ == "__main__":
    main(tyro.cli(Args))
