"""The residual through each dynamics model of a data-efficiency run, on the reality, over seeds.

Takes the models ``benchmarks/ndm_data_efficiency.py`` fitted (``RUN/models/K_pretrain.pt`` and
``K_finetune_N.pt``) and, per (model kind K, Chaos Box size N) and seed S, trains a residual
through the fine-tuned model on the run's simulated episodes and scores it on the reality with
the grasps of seed S; direct transfer (the base alone) is scored on the same grasps per seed.
Both stages are the CLI commands a user runs (``dexndm train residual``, ``dexndm eval``), and
a rerun with the same ``--out`` reuses every finished one.

    .venv/bin/python benchmarks/residual_by_model.py --run out/ndm_data_efficiency_s9 \\
        --models joint:1000 whole:1000 joint:200 joint:50 finger:1000 --out out/s10/res

With ``--drive FILE`` (``dexndm train drive``) every residual also matches the sim's motor
current (``dexndm train residual --drive``).
"""

from __future__ import annotations

import json
import shlex
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import tyro

# sibling scripts: running a benchmark puts benchmarks/ on sys.path
from pipeline_seeds import mean_std

from dexndm.data.artifacts import read_sidecar, sidecar_path
from dexndm.eval.report import format_gap_closed, format_rot_ratio


@dataclass
class Args:
    run: Path = Path("out/ndm_data_efficiency")
    """A finished ``benchmarks/ndm_data_efficiency.py`` output folder."""
    models: tuple[str, ...] = ("joint:1000", "whole:1000")
    """``KIND:EPISODES`` pairs: the fine-tuned models to train a residual through."""
    seeds: tuple[int, ...] = (0, 1, 2)
    reality: str = "default"
    base: str = "checkpoints/generalist/generalist.pt"
    residual_steps: int = 1500
    max_correction: float = 0.012
    """The residual's correction bound, rad (``dexndm train residual --max-correction``)."""
    threads: int = 2
    drive: Path | None = None
    """A drive model (``dexndm train drive``) for the force-matching term (``--drive``); None: the
    paper's position objective."""
    drive_weight: float = 1.0
    episodes: int = 10
    """Evaluation episodes per test shape (normal cylinders, palm up, +z)."""
    sim_rot: float | None = None
    """The base's Rot in the training sim on the same grasps, for the "gap closed" column."""
    out: Path = Path("out/residual_by_model")


def _cli() -> str:
    return str(Path(sys.executable).with_name("dexndm"))


def eval_args(policy: str | Path, reality: str, episodes: int, seed: int, out: Path) -> list[str]:
    """The ``dexndm eval`` arguments of the palm-up evaluation: test normal cylinders, palm up,
    +z, with the grasps of ``seed`` (the evaluation of docs/results.md sections 4b-4c)."""
    return [
        "eval", "--policy", str(policy), "--reality", reality, "--object", "normal_cylinder",
        "--split", "test", "--wrist", "palm_up", "--axis", "+z", "--episodes", str(episodes),
        "--seed", str(seed), "--out", str(out),
    ]  # fmt: skip


def made_by(summary: Path, args: list[str]) -> bool:
    """Whether the finished evaluation ``summary`` was made by ``dexndm`` with ``args`` (up to its
    output folder), as its provenance sidecar records."""
    if not sidecar_path(summary).exists():
        return False
    recorded = shlex.split(read_sidecar(summary)["command"])[1:]
    return _without_out(recorded) == _without_out(args)  # a folder may be copied or moved


def _without_out(args: list[str]) -> list[str]:
    if "--out" not in args:
        return args
    i = args.index("--out")
    return args[:i] + args[i + 2 :]


def evaluate_palm_up(policy: str | Path, reality: str, episodes: int, seed: int, out: Path) -> dict:
    """The palm-up evaluation (``eval_args``) of ``policy``: its ``overall`` summary. Reuses a
    finished one in ``out`` only if the very same command made it, so that scoring a policy on a
    second reality can never report the first reality's numbers."""
    summary = out / Path(policy).stem / "summary.json"  # dexndm eval names the folder by the file
    args = eval_args(policy, reality, episodes, seed, out)
    if not summary.exists():
        subprocess.run([_cli(), *args], check=True, stdout=subprocess.DEVNULL)
    elif not made_by(summary, args):
        raise ValueError(
            f"{summary.parent} holds an evaluation by another command than dexndm {' '.join(args)}; "
            "give this evaluation its own --out folder (or delete that one to redo it)"
        )
    return json.loads(summary.read_text())["overall"]


def _residual(kind: str, size: str, args: Args, seed: int, out: Path) -> dict:
    sidecar = out / "residual.pt.json"
    if not sidecar.exists():
        drive = ["--drive", str(args.drive), "--drive-weight", f"{args.drive_weight:g}"] if args.drive else []
        models = args.run / "models"
        subprocess.run([
            _cli(), "train", "residual", "--dynamics", str(models / f"{kind}_finetune_{size}.pt"),
            "--sim-dynamics", str(models / f"{kind}_pretrain.pt"), "--sim-data", str(args.run / "sim"),
            "--out", str(out), "--steps", str(args.residual_steps), "--eval-every", "300",
            "--seed", str(seed), "--threads", str(args.threads), "--no-progress",
            "--max-correction", str(args.max_correction),
            *drive,
        ], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    return json.loads(sidecar.read_text())["extra"]["eval"]


def main(args: Args) -> None:
    direct = [
        evaluate_palm_up(args.base, args.reality, args.episodes, s, args.out / "direct" / f"seed{s}")
        for s in args.seeds
    ]
    d_rot = [r["rot_mean"] for r in direct]
    d_mean = statistics.fmean(d_rot)
    d_ttf = mean_std([20 * r["ttf_mean"] for r in direct])  # TTF is a fraction of the 20 s episode
    lines = [
        "| model | Chaos Box episodes | modelled gap closed | mean correction (mrad) | Rot (rad) | TTF (s) "
        "| / direct | gap closed | per seed |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| direct transfer | - | - | - | {mean_std(d_rot)} | {d_ttf} | 1.00x | - | - |",
    ]
    for spec in args.models:
        kind, _, size = spec.partition(":")
        if kind not in ("joint", "finger", "whole") or not size.isdigit():
            raise ValueError(f"--models takes KIND:EPISODES with KIND joint, finger or whole; got {spec!r}")
        fits, evals = [], []
        for s in args.seeds:
            folder = args.out / f"{kind}_{size}" / f"seed{s}"
            fits.append(_residual(kind, size, args, s, folder / "residual"))
            policy = folder / "residual" / "policy.onnx"
            evals.append(evaluate_palm_up(policy, args.reality, args.episodes, s, folder / "eval"))
            print(f"{kind} {size} seed {s}: Rot {evals[-1]['rot_mean']:.3f}", flush=True)
        rot = [r["rot_mean"] for r in evals]
        closed = [100 * (1 - f["corrected_mae"] / f["uncorrected_mae"]) for f in fits]
        corr = [1e3 * f["mean_abs_correction"] for f in fits]
        mean = statistics.fmean(rot)
        gap = "-" if args.sim_rot is None else format_gap_closed(mean, d_mean, args.sim_rot)
        per_seed = ", ".join(format_rot_ratio(a, b, unit="") for a, b in zip(rot, d_rot, strict=True))
        lines.append(
            f"| {kind} | {size} | {min(closed):.0f}-{max(closed):.0f}% | {min(corr):.1f}-{max(corr):.1f} "
            f"| {mean_std(rot)} | {mean_std([20 * r['ttf_mean'] for r in evals])} "
            f"| {format_rot_ratio(mean, d_mean)} | {gap} | {per_seed} |"
        )
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main(tyro.cli(Args))
