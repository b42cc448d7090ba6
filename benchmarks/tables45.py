"""The paper's Tables 4 and 5 on SimulatedReality: the whole loop per cell, over seeds.

Table 4 turns about world +z at each of the six wrist orientations; Table 5 holds the palm down
and turns about each of +-x, +-y, +-z. For each (table, profile, seed) the script runs ``dexndm
demo`` once over all of that table's cells: simulated base-policy episodes in every cell, one
joint-wise dynamics model and one residual for the table, then sim / direct transfer / base +
residual scored in every cell on the same grasps. Both tables of a (profile, seed) fit on one
Chaos Box collection at all six wrist orientations (``--demo.real-episodes`` per orientation),
made first: the box is the slow part (0.3-1.1x real time per orientation on this machine,
benchmarks/RESULTS.md "Collection speed" and "Tables 4/5"). Per cell and row the table gives Rot (rad) and
TTF (s), mean +- sample std over seeds of each seed's mean; the last line averages over cells,
which is what the issue's 1.5x headline is measured on. ``--baselines finger whole`` adds the
paper's finger-wise and whole-hand dynamics-model rows on each run's data; with
``--demo.on-policy-rounds N`` the DexNDM row is the residual after N on-policy rounds (ours,
docs/results.md 4n) and the residual before them is a row of its own; ``--policies`` adds any
deployable policy (the fine-tune baselines) as a row scored on the same grasps; ``--reference``
adds the base on the profile with mild's motors, bus and encoders (a hand whose joints move about
as the sim's: what DexNDM's correction aims for), the yardstick for how much of the gap is
within the method's reach on that profile.

    .venv/bin/python benchmarks/tables45.py --profiles default harsh --seeds 0 1 2

A rerun with the same ``--out`` reuses every run made with the same base, reality, seed and cells.
Two runs side by side on this 2-core box: give each ``--demo.threads 1`` (the training stages'
default of 2 threads each made the residual stage about eight times slower per step,
docs/results.md 4h).
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import tyro

# sibling scripts: running a benchmark puts benchmarks/ on sys.path
from direct_transfer import save_table
from pipeline_seeds import base_for_seed, check_reuse, mean_std
from policy_baselines import split_label_path

from dexndm.collect.cli import CollectCmd
from dexndm.data.atomic import atomic_write_text
from dexndm.demo import DemoConfig, chaos_config, evaluate_reality_cells, fit_residual, run_demo
from dexndm.dynamics.models import MODEL_NAMES
from dexndm.eval.report import format_gap_closed, format_rot_ratio
from dexndm.hand import constants as C
from dexndm.reality.profile import load_profile
from dexndm.sim.wrists_axes import PRINCIPAL_AXES, WRISTS

TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "wrists_z": (tuple(WRISTS), ("+z",)),  # the paper's Table 4
    "palm_down_axes": (("palm_down",), PRINCIPAL_AXES),  # the paper's Table 5
}
ROWS = ("sim", "direct", "dexndm")
REFERENCE = "sim_like_hand"
"""The ``--reference`` row: the base on the profile with mild's motors, bus and encoders."""
SIM_STATES = "sim_states"
"""With ``--demo.on-policy-rounds``, the residual trained on the sim's states alone (before the rounds)."""
LABELS = (
    {"sim": "sim", "direct": "direct", "dexndm": "DexNDM", REFERENCE: "sim-like hand (reference)"}
    | {SIM_STATES: "DexNDM without on-policy rounds"}
    | {k: f"{MODEL_NAMES[k]} NDM" for k in ("finger", "whole")}
)


@dataclass
class Args:
    profiles: tuple[str, ...] = ("default", "harsh")
    seeds: tuple[int, ...] = (0, 1, 2)
    tables: tuple[Literal["wrists_z", "palm_down_axes"], ...] = ("wrists_z", "palm_down_axes")
    demo: DemoConfig = DemoConfig(
        sim_episodes=96, real_episodes=12, eval_episodes=10, video_steps=0, progress=False
    )
    """Stage sizes of every run (seed, reality, wrists and axes are set per run)."""
    baselines: tuple[Literal["finger", "whole"], ...] = ()
    """Dynamics-model baselines, each a row: the residual trained through a finger-wise or
    whole-hand model fitted on the run's own simulated episodes and Chaos Box store, scored on
    the same grasps (the paper's Table 4 has the whole-hand one)."""
    reference: bool = False
    """Add a reference row: the base on each profile with mild's motors, bus and encoders (its
    contacts and masses kept), on the run's grasps: about what a perfect correction of the joints'
    dynamics, DexNDM's aim, could give there (docs/results.md section 2b). Not a method."""
    policies: tuple[str, ...] = ()
    """Deployable policies as rows, ``LABEL=PATH`` (a generalist ``.pt`` or an exported ``.onnx``):
    the fine-tune baselines (``dexndm sysid`` / ``train delta-action``, then ``train specialist``
    and ``train generalist``), scored on each run's grasps. ``{seed}`` and ``{profile}`` (the
    profile's stem) in PATH are filled in per run, e.g.
    ``sysid=runs/sysid_{profile}_seed{seed}/generalist/generalist.pt``."""
    base_per_seed: str | None = None
    """A base policy per pipeline seed, ``{seed}`` replaced by the seed; None: ``--demo.base``."""
    out: Path = Path("out/tables45")


def cell_means(episodes_csv: Path, episode_s: float) -> dict[tuple[str, str], tuple[float, float]]:
    """(wrist, axis) -> (mean Rot in rad, mean TTF in s) over the episodes of ``episodes.csv``."""
    if not episodes_csv.is_file():
        raise FileNotFoundError(
            f"{episodes_csv} is missing: the run did not finish; delete its folder and rerun"
        )
    cells: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with episodes_csv.open(newline="") as f:
        for row in csv.DictReader(f):
            cells.setdefault((row["wrist"], row["axis"]), []).append((float(row["rot"]), float(row["ttf"])))
    return {
        cell: (statistics.fmean(r for r, _ in v), statistics.fmean(t for _, t in v) * episode_s)
        for cell, v in cells.items()
    }


def table_lines(
    per_seed: list[dict[str, dict[tuple[str, str], tuple[float, float]]]], baselines: tuple[str, ...] = ()
) -> list[str]:
    """Markdown rows: one per cell (in the first seed's order), then the average over cells.

    ``per_seed[i][row][cell]`` = (Rot, TTF s) of seed i's run for row sim / direct / dexndm and
    each of ``baselines`` (a dynamics-model kind, or a ``--policies`` label, which is its own
    column title); every method but sim and direct also gets its ratio to direct transfer, and
    DexNDM the share of the sim-to-direct gap it closed.
    """
    rows = (*ROWS, *baselines)
    methods = ("dexndm", *baselines)
    cells = list(per_seed[0]["sim"])
    lines = [
        "| wrist | axis | "
        + " | ".join(f"{_label(k)} Rot | {_label(k)} TTF (s)" for k in rows)
        + " | "
        + " | ".join(f"{_label(k)} / direct" for k in methods)
        + " | gap closed |",
        "|" + "---|" * (2 + 2 * len(rows) + len(methods) + 1),
    ]
    avg: dict[str, list[float]] = {k: [] for k in rows}
    for cell in cells:
        rot = {k: [s[k][cell][0] for s in per_seed] for k in rows}
        ttf = {k: [s[k][cell][1] for s in per_seed] for k in rows}
        mean = {k: statistics.fmean(rot[k]) for k in rows}
        for k in rows:
            avg[k].append(mean[k])
        lines.append(
            f"| {cell[0]} | {cell[1]} | "
            + " | ".join(f"{mean_std(rot[k])} | {mean_std(ttf[k])}" for k in rows)
            + " | "
            + " | ".join(format_rot_ratio(mean[k], mean["direct"]) for k in methods)
            + f" | {format_gap_closed(mean['dexndm'], mean['direct'], mean['sim'])} |"
        )
    mean = {k: statistics.fmean(avg[k]) for k in rows}
    fields = [f"**mean over {len(cells)} cells**", ""]
    fields += [c for k in rows for c in (f"{mean[k]:.2f}", "")]
    fields += [f"**{format_rot_ratio(mean[k], mean['direct'])}**" for k in methods]
    fields.append(f"**{format_gap_closed(mean['dexndm'], mean['direct'], mean['sim'])}**")
    lines.append("| " + " | ".join(fields) + " |")
    return lines


def _label(row: str) -> str:
    return LABELS.get(row, row)


def baseline_row(cfg: DemoConfig, run_dir: Path) -> None:
    """The ``cfg.arch`` baseline of a finished run: its model and residual in ``run_dir/<arch>``,
    fitted on the run's simulated episodes and ``cfg.real_data``, scored into
    ``run_dir/eval/<arch>``; skipped when that score is there (each stage resumes on its own)."""
    if (run_dir / "eval" / cfg.arch / "episodes.csv").is_file():
        return
    t0 = time.perf_counter()
    assert cfg.real_data is not None
    deployed = fit_residual(cfg, run_dir / cfg.arch, run_dir / "sim", Path(cfg.real_data), {})
    evaluate_reality_cells(cfg, deployed, run_dir / "eval" / cfg.arch)
    print(f"{run_dir} {cfg.arch} NDM + residual: {time.perf_counter() - t0:.0f} s", flush=True)


def reference_row(cfg: DemoConfig, run_dir: Path) -> None:
    """Score the ``--reference`` row of a finished run into ``run_dir/eval/sim_like_hand``: the
    base on ``cfg.reality`` with mild's hand, on the run's grasps; skipped when it is there."""
    out = run_dir / "eval" / REFERENCE
    if (out / "episodes.csv").is_file():
        return
    t0 = time.perf_counter()
    hand = load_profile(cfg.reality).with_hand_of(load_profile("mild"))
    evaluate_reality_cells(cfg, cfg.base, out, profile=hand)
    print(f"{run_dir} reference (sim-like hand): {time.perf_counter() - t0:.0f} s", flush=True)


def parse_policy_rows(pairs: tuple[str, ...]) -> dict[str, str]:
    """``LABEL=PATH`` strings to {label: path template}; a label may not be another row's."""
    rows: dict[str, str] = {}
    for pair in pairs:
        try:
            label, path = split_label_path(pair)
        except ValueError as err:
            raise SystemExit(str(err)) from None
        if label in LABELS or label in rows or "/" in label:
            raise SystemExit(
                f"--policies label {label!r} is taken (or has a '/'): name the row something else"
            )
        rows[label] = path
    return rows


def policy_file(label: str, template: str, seed: int, profile: str) -> Path:
    path = Path(template.format(seed=seed, profile=profile))
    if not path.is_file():
        raise SystemExit(f"--policies {label}: no policy file at {path} (seed {seed}, profile {profile})")
    return path


def policy_row(cfg: DemoConfig, label: str, template: str, profile: str, run_dir: Path) -> None:
    """Score the ``--policies`` row ``label`` of a finished run into ``run_dir/eval/<label>``,
    unless the same policy file's score is there (another file under the label is refused)."""
    path = policy_file(label, template, cfg.seed, profile)
    out = run_dir / "eval" / label
    record = out / "policy.json"
    if (out / "episodes.csv").is_file() and record.is_file():
        scored = Path(json.loads(record.read_text())["policy"])
        if scored.resolve() != path.resolve():
            raise SystemExit(
                f"{out} scored {scored}, not {path}: delete that folder or give the row another label"
            )
        return
    t0 = time.perf_counter()
    evaluate_reality_cells(cfg, path, out)
    # written last: a score without its record is unfinished and made again
    atomic_write_text(record, json.dumps({"policy": str(path)}) + "\n")
    print(f"{run_dir} {label}: {time.perf_counter() - t0:.0f} s", flush=True)


def main(args: Args) -> None:
    episode_s = args.demo.episode_steps * C.CONTROL_DT
    policies = parse_policy_rows(args.policies)
    rounds = args.demo.on_policy_rounds  # DexNDM's row is then the last round's residual
    extra_rows = (*((SIM_STATES,) if rounds else ()), *args.baselines, *policies)
    extra_rows += (REFERENCE,) if args.reference else ()
    for label, template in policies.items():  # before the hours of collection, not after
        for profile in args.profiles:
            for seed in args.seeds:
                policy_file(label, template, seed, Path(profile).stem)
    lines = [
        f"Seeds {', '.join(map(str, args.seeds))}; per seed and table {args.demo.sim_episodes} simulated "
        f"episodes, {args.demo.real_episodes} Chaos Box episodes per wrist orientation, "
        f"{args.demo.eval_episodes} evaluation episodes per test shape, cell and row; mean +- std over "
        "seeds of each seed's mean.",
    ]
    # one Chaos Box store per (profile, seed) at every wrist of the tables, shared by the tables;
    # collecting resumes a store that is there (and refuses one collected with other settings)
    all_wrists = tuple(dict.fromkeys(w for t in args.tables for w in TABLES[t][0]))
    stores: dict[tuple[str, int], Path] = {}
    for profile in args.profiles:
        for seed in args.seeds:
            store = stores[profile, seed] = args.out / "chaos" / Path(profile).stem / f"seed{seed}"
            base = base_for_seed(args.demo.base, args.base_per_seed, seed)
            CollectCmd(
                hand="sim", reality=profile, out=store, progress=False,
                config=chaos_config(replace(args.demo, seed=seed, base=base), wrists=all_wrists),
            ).run()  # fmt: skip
    for table in args.tables:
        wrists, axes = TABLES[table]
        for profile in args.profiles:
            name = Path(profile).stem
            per_seed = []
            for seed in args.seeds:
                run_dir = args.out / table / name / f"seed{seed}"
                base = base_for_seed(args.demo.base, args.base_per_seed, seed)
                cfg = replace(
                    args.demo, reality=profile, seed=seed, base=base, wrists=wrists, axes=axes,
                    real_data=str(stores[profile, seed]),
                )  # fmt: skip
                summary = run_dir / "summary.json"
                if summary.exists():
                    # runs made before the option existed had no rounds
                    more = {"on_policy_rounds": rounds} if rounds else {}
                    check_reuse(
                        summary, base=base, reality=profile, seed=seed, wrists=wrists, axes=axes, **more
                    )
                else:
                    t0 = time.perf_counter()
                    run_demo(cfg, run_dir)
                    print(f"{table} {profile} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
                for arch in args.baselines:
                    baseline_row(replace(cfg, arch=arch), run_dir)
                for label, template in policies.items():
                    policy_row(cfg, label, template, name, run_dir)
                if args.reference:
                    reference_row(cfg, run_dir)
                per_seed.append(
                    {
                        k: cell_means(run_dir / "eval" / k / "episodes.csv", episode_s)
                        for k in (*ROWS, *extra_rows)
                    }
                )
            lines += ["", f"**{table}, {name}**", "", *table_lines(per_seed, extra_rows)]
    save_table(args.out, lines)


if __name__ == "__main__":
    main(tyro.cli(Args))
