"""The dynamics-model ablations of method.md on SimulatedReality, scored on real *task* episodes.

Each row changes one thing against the reference: a joint-wise model pre-trained on simulated
base-policy episodes and fine-tuned on N Chaos Box episodes (replayed base actions under load,
action noise on half the episodes). Rows:

- reference (Chaos Box, noise p = 0.5, sim pre-training);
- no sim pre-training: the same data, trained from scratch for pre-train + fine-tune steps;
- no real data: the sim-pretrained model alone (what the Chaos Box fine-tune adds);
- no action noise: Chaos Box episodes collected with noise probability 0;
- free hand: the replayed actions without any load;
- sine waves / square waves: per-joint waves under the load instead of replayed actions.

The simulated store, the reference Chaos Box store (its first N episodes), the task episodes and
the pre-trained model are taken from a finished ``benchmarks/ndm_data_efficiency.py`` run
(``--from-run``); the other stores are collected here with the same seed, wrist and episode
length. Every stage keeps its output in ``--out``, so a rerun resumes.

    .venv/bin/python benchmarks/ndm_ablations.py --from-run out/ndm_data_efficiency_s5 --out out/ndm_ablations
    .venv/bin/python benchmarks/ndm_ablations.py --pool out/abl_seed0 out/abl_seed1 --out out/abl_pooled
"""

from __future__ import annotations

import copy
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import tyro

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ndm_data_efficiency as de  # noqa: E402
from pipeline_seeds import mean_std  # noqa: E402

from dexndm.dynamics import EpisodeWindows, open_loop_error  # noqa: E402
from dexndm.dynamics.checkpoint import load_dynamics, save_dynamics  # noqa: E402
from dexndm.dynamics.models import DynamicsConfig, build_dynamics  # noqa: E402


@dataclass
class Args:
    from_run: Path = Path("out/ndm_data_efficiency")
    """A finished ndm_data_efficiency.py run (its sim/ and real/ stores, task episodes, models/)."""
    out: Path = Path("out/ndm_ablations")
    episodes: int = 96
    """Chaos Box (or ablation) episodes each model is fine-tuned on."""
    pool: tuple[Path, ...] = ()
    """Finished ablation folders (one per seed) to pool into one mean +- std table in ``--out``,
    instead of running the ablations."""


ROWS = (
    ("reference: Chaos Box, noise p=0.5, sim pre-training", "ref"),
    ("no sim pre-training", "scratch"),
    ("no real data (sim pre-training only)", "simonly"),
    ("no action noise", "nonoise"),
    ("free hand (no load)", "free"),
    ("sine waves under load", "sine"),
    ("square waves under load", "square"),
)


def collect(args: Args, run: de.Args, name: str) -> Path:
    """The ablation's episode store (resumes); ``ref`` and ``scratch`` use the reference store,
    and ``simonly`` fits on none (its model is the run's pre-trained one)."""
    if name in ("ref", "scratch", "simonly"):
        return run.out / "real"
    from dexndm.collect.cli import CollectCmd
    from dexndm.collect.config import CollectConfig, ReplayConfig

    mode = {"nonoise": "chaos", "free": "free", "sine": "sine", "square": "square"}[name]
    cfg = CollectConfig(
        mode=mode, source=run.base, episodes=args.episodes, wrist=(run.wrist,), steps=400, seed=run.seed,
        noise_prob=0.0 if name == "nonoise" else 0.5, replay=ReplayConfig(objects=run.objects),
    )  # fmt: skip
    root = args.out / "stores" / name
    CollectCmd(hand="sim", reality=run.reality, out=root, progress=False, config=cfg).run()
    return root


def model_for(args: Args, run: de.Args, name: str, root: Path) -> torch.nn.Module:
    path = args.out / "models" / f"{name}.pt"
    cfg = DynamicsConfig(kind="joint", window=run.window, hidden=tuple(run.hidden))
    if path.exists():
        return load_dynamics(path, expected_config=build_dynamics(cfg).config)
    if name == "simonly":
        return de.pretrained(run, "joint")  # the run's own pre-trained model: nothing to save
    if name == "scratch":
        # the same optimiser budget as pre-training + fine-tuning, at the fine-tuning data only
        model = build_dynamics(cfg)
        steps = run.pretrain_steps + run.finetune_steps
        best = de._fit_on_store(run, model, root, range(args.episodes), steps, 1e-3)
    else:
        model = copy.deepcopy(de.pretrained(run, "joint"))
        best = de._fit_on_store(run, model, root, range(args.episodes), run.finetune_steps, 3e-4)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_dynamics(path, model, extra={"stage": name, "episodes": args.episodes, "best_step": best})
    return model


def pool_lines(folders: tuple[Path, ...]) -> list[str]:
    """Mean +- sample std over ``folders``' ``results.json`` of every row's errors, and each
    row's 10-step error minus the reference's in the same run (the pairing removes what the runs'
    task episodes share, e.g. a hard segment)."""
    runs = []
    for folder in folders:
        path = folder / "results.json"
        if not path.is_file():
            raise SystemExit(f"{folder} has no results.json: run the ablations with --out {folder} first")
        runs.append({r["row"]: r for r in json.loads(path.read_text())["rows"]})
    if any(list(r) != list(runs[0]) for r in runs):
        raise SystemExit("the pooled folders have different rows: made by different versions of this script")
    ref = ROWS[0][0]
    lines = [
        f"| joint-wise model ({len(runs)} runs) | 1-step (mrad) | 10-step (mrad) | 10-step minus reference |",
        "|---|---|---|---|",
        f"| hold (nothing moves) | {mean_std([r[ref]['hold_one_step_mrad'] for r in runs])} | "
        f"{mean_std([r[ref]['hold_ten_step_mrad'] for r in runs])} | - |",
    ]
    for row in runs[0]:
        diff = [r[row]["ten_step_mrad"] - r[ref]["ten_step_mrad"] for r in runs]
        lines.append(
            f"| {row} | {mean_std([r[row]['one_step_mrad'] for r in runs])} | "
            f"{mean_std([r[row]['ten_step_mrad'] for r in runs])} | {'-' if row == ref else mean_std(diff)} |"
        )
    return lines


def main(args: Args) -> None:
    if args.pool:
        text = "\n".join([*pool_lines(args.pool), "", "Runs: " + ", ".join(map(str, args.pool))]) + "\n"
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "table.md").write_text(text)
        print(text)
        return
    t0 = time.perf_counter()
    # the run's own settings (reality, base, seed, sizes of every stage), not this script's defaults
    run = de.load_run(args.from_run)
    de.record_settings(args.out, {"from_run": args.from_run, "episodes": args.episodes})
    torch.set_num_threads(run.threads)
    if not (run.out / "task_episodes.npz").exists():
        raise SystemExit(
            f"{run.out} has no task_episodes.npz: run benchmarks/ndm_data_efficiency.py --out {run.out} first"
        )
    task = de.record_task_episodes(run)
    windows = EpisodeWindows.from_arrays(task["joint_pos"], task["joint_targets"], run.window)
    rows = []
    for label, name in ROWS:
        root = collect(args, run, name)
        model = model_for(args, run, name, root)
        err = open_loop_error(model, windows, 10)
        rows.append({
            "row": label, "one_step_mrad": 1e3 * err.one_step, "ten_step_mrad": 1e3 * err.final,
            "hold_one_step_mrad": 1e3 * err.hold_one_step, "hold_ten_step_mrad": 1e3 * err.hold_final,
        })  # fmt: skip
        r = rows[-1]
        print(
            f"{label}: 1-step {r['one_step_mrad']:.2f}, 10-step {r['ten_step_mrad']:.2f} mrad "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    hold = rows[0]
    lines = [
        "| joint-wise model | 1-step (mrad) | 10-step (mrad) |",
        "|---|---|---|",
        f"| hold (nothing moves) | {hold['hold_one_step_mrad']:.2f} | {hold['hold_ten_step_mrad']:.2f} |",
        *(f"| {r['row']} | {r['one_step_mrad']:.2f} | {r['ten_step_mrad']:.2f} |" for r in rows),
        "",
        f"{args.episodes} episodes per row on the '{run.reality}' reality; scored on {windows.num_episodes} "
        f"task segments ({len(windows)} windows) from {run.out}; wall time {time.perf_counter() - t0:.0f} s.",
    ]
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(text)
    (args.out / "results.json").write_text(json.dumps({"rows": rows, "args": str(args)}, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main(tyro.cli(Args))
