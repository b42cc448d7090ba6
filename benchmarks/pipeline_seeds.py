"""The whole neural sim-to-real loop over seeds and reality profiles: mean +- std across seeds.

Each (profile, seed) is one ``dexndm demo`` run (sim episodes, Chaos Box collection, dynamics
model, residual, then sim / direct transfer / base + residual evaluated on the same grasps), so
every stage that draws random numbers draws with that seed. Per seed the script takes the mean
Rot and TTF of each row; the table gives their mean +- sample std over seeds, the ratio
DexNDM / direct of the seed means and the gap closed, (dexndm - direct) / (sim - direct).

    .venv/bin/python benchmarks/pipeline_seeds.py --profiles default harsh --seeds 0 1 2

A rerun with the same ``--out`` reuses every finished seed (its ``summary.json``) made with the
same base, reality and seed. ``--base-per-seed`` gives each seed its own base, e.g. the fine-tune
control of docs/results.md section 6c:

    .venv/bin/python benchmarks/pipeline_seeds.py --profiles default --seeds 0 1 2 \
        --base-per-seed 'runs/nominal_ft_seed{seed}/generalist/generalist.pt' --out out/ft_pipeline
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

import tyro

# the sibling script: running a benchmark puts benchmarks/ on sys.path
from direct_transfer import save_table

from dexndm.demo import DemoConfig, run_demo
from dexndm.eval.report import format_gap_closed, format_rot_ratio

ROWS = ("sim", "direct", "dexndm")


@dataclass
class Args:
    profiles: tuple[str, ...] = ("default", "harsh")
    seeds: tuple[int, ...] = (0, 1, 2)
    demo: DemoConfig = DemoConfig(real_episodes=48, eval_episodes=10, video_steps=0, progress=False)
    """Stage sizes of every run (``--demo.seed`` and ``--demo.reality`` are set per run)."""
    base_per_seed: str | None = None
    """A base policy per pipeline seed, ``{seed}`` replaced by the seed (e.g.
    ``runs/nominal_ft_seed{seed}/generalist/generalist.pt``): each seed's residual trains on and
    corrects the base that seed's fine-tune made. None: every seed uses ``--demo.base``."""
    out: Path = Path("out/pipeline_seeds")


def mean_std(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.2f} +- {sd:.2f}"


def base_for_seed(base: str, base_per_seed: str | None, seed: int) -> str:
    """The base policy of pipeline ``seed``: ``base_per_seed`` with ``{seed}`` filled in, else ``base``."""
    return base if base_per_seed is None else base_per_seed.format(seed=seed)


def check_reuse(summary: Path, **expected: object) -> None:
    """A finished run is reused only if its config has the ``expected`` values (``base``: the
    same file; tuples compare with the JSON's lists)."""
    import json

    made = json.loads(summary.read_text())["config"]
    for key, want in expected.items():
        have = made.get(key)
        if key == "base":
            same = have is not None and Path(have).resolve() == Path(str(want)).resolve()
        else:
            same = have == (list(want) if isinstance(want, tuple) else want)
        if not same:
            raise SystemExit(f"{summary} was made with {key} {have!r}, not {want!r}: pass another --out")


def main(args: Args) -> None:
    import json

    lines = [
        f"Seeds {', '.join(map(str, args.seeds))}; per seed {args.demo.real_episodes} Chaos Box episodes, "
        f"{args.demo.eval_episodes} evaluation episodes per test shape and row; mean +- std over seeds "
        "of each seed's mean.",
        "",
        "| profile | sim Rot (rad) | direct Rot | DexNDM Rot | direct TTF (s) | DexNDM TTF (s) | "
        "DexNDM / direct | gap closed | per seed DexNDM / direct |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for profile in args.profiles:
        name = Path(profile).stem  # a profile file (--profiles my/hand.toml) is named by its stem
        per_seed = []
        for seed in args.seeds:
            run_dir = args.out / name / f"seed{seed}"
            summary = run_dir / "summary.json"
            base = base_for_seed(args.demo.base, args.base_per_seed, seed)
            if summary.exists():
                check_reuse(summary, base=base, reality=profile, seed=seed)
            else:
                t0 = time.perf_counter()
                run_demo(replace(args.demo, reality=profile, seed=seed, base=base), run_dir)
                print(f"{profile} seed {seed}: {time.perf_counter() - t0:.0f} s")
            per_seed.append(json.loads(summary.read_text())["results"])
        rot = {k: [r[k]["rot"] for r in per_seed] for k in ROWS}
        ttf = {k: [r[k]["ttf_s"] for r in per_seed] for k in ROWS}
        sim, direct, dexndm = (statistics.fmean(rot[k]) for k in ROWS)
        pairs = zip(rot["dexndm"], rot["direct"], strict=True)
        ratios = ", ".join(format_rot_ratio(d, b, unit="") for d, b in pairs)
        gap = format_gap_closed(dexndm, direct, sim)
        lines.append(
            f"| {name} | {mean_std(rot['sim'])} | {mean_std(rot['direct'])} | "
            f"{mean_std(rot['dexndm'])} | "
            f"{mean_std(ttf['direct'])} | {mean_std(ttf['dexndm'])} | {format_rot_ratio(dexndm, direct)} | "
            f"{gap} | {ratios} |"
        )
    save_table(args.out, lines)


if __name__ == "__main__":
    main(tyro.cli(Args))
