"""Diagnostic: can joint-target corrections restore the rotation a soft-gain hand loses, at all?

The residual of docs/results.md sections 4c-4d never gained on ``benchmarks/profiles/soft.toml``
(P / D 150 / 40 instead of 800 / 200), whatever its data or bound. Before building an objective
that asks it for force, this asks whether *any* target correction at the control rate can give
the gain back: an oracle that knows the gap's form (a stiffness ratio) and rescales the base
policy's drive, ``correction = clip((g - 1) (a_t - q_t), -bound, bound)`` with ``q_t`` the newest
measured position in the observation, so that the motor's current ``kp_real (a' - q)`` is about
``g kp_real (a - q)``. On soft, kp of the training sim / kp of the profile is about 7.6 (3.0
against 0.39 Nm/rad). This is a diagnostic with knowledge no method has: it is never a baseline.

Each oracle is exported through the base + residual ONNX path a trained residual uses and scored
with ``dexndm eval`` on the grasps of seeds 0-2 (the evaluation of sections 4b-4d).

    .venv/bin/python benchmarks/gain_oracle.py --reality benchmarks/profiles/soft.toml \\
        --gains 2 4 7.6 --out out/gain_oracle_soft

A rerun with the same ``--out`` reuses every finished evaluation.

``--demo-run DIR`` scores the oracles instead in the cells of a finished ``dexndm demo`` run, with
its own evaluation (its reality, base, wrists, axes, episodes and grasps, read from
``DIR/summary.json``), beside the run's sim, direct-transfer and base + residual rows: what a
hand-made stiffness correction gives where that run's residual was measured (docs/results.md 4j).

    .venv/bin/python benchmarks/gain_oracle.py --demo-run out/s31/bu_soft_task \
        --gains 2 4 7.6 --bound 0.4 --out out/s32/gain_oracle_bu_soft
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import tyro

# the sibling script: running a benchmark puts benchmarks/ on sys.path
from residual_controls import score_table
from torch import Tensor, nn


@dataclass
class Args:
    base: str = "checkpoints/generalist/generalist.pt"
    reality: str = "benchmarks/profiles/soft.toml"
    gains: tuple[float, ...] = (2.0, 4.0, 7.6)
    """Drive scale g of each oracle (1 = the base alone)."""
    bound: float = 0.15
    """Largest correction per joint, rad (the 150 mrad of section 4d's largest residuals)."""
    seeds: tuple[int, ...] = (0, 1, 2)
    episodes: int = 10
    """Evaluation episodes per test shape (normal cylinders, palm up, +z)."""
    out: Path = Path("out/gain_oracle")
    in_model: bool = True
    """With --demo-run: also score each oracle by the run's residual objective, through its
    dynamics (and drive) models on its held-out sim episodes, beside the run's trained residual:
    whether the objective prefers what the residual learned or what the oracle does."""
    demo_run: Path | None = None
    """A finished ``dexndm demo`` output folder: score the oracles in its cells with its evaluation
    (its base and reality; --base, --reality, --seeds and --episodes are then not used)."""


class DriveScale(nn.Module):
    """``(proprio, base_targets) -> clip((g - 1) (base_targets - q_newest), -bound, bound)``."""

    def __init__(self, gain: float, bound: float, history: int) -> None:
        super().__init__()
        from dexndm.hand.constants import NUM_JOINTS
        from dexndm.residual.model import ResidualConfig

        self.config = ResidualConfig(history=history, max_correction=bound)  # what the export records
        self.scale, self.bound = gain - 1.0, bound
        self.q_slice = slice((history - 1) * 2 * NUM_JOINTS, (history - 1) * 2 * NUM_JOINTS + NUM_JOINTS)

    def forward(self, proprio: Tensor, base_targets: Tensor) -> Tensor:
        q_newest = proprio[:, self.q_slice]
        return torch.clamp(self.scale * (base_targets - q_newest), -self.bound, self.bound)


def export_oracle(args: Args, gain: float, path: Path) -> None:
    from dexndm.eval.policies import load_policy
    from dexndm.hand.constants import MAX_TARGET_STEP_RAD
    from dexndm.residual.export import BasePlusResidual, base_torch_module, export_onnx

    if path.exists():
        return
    history = cfg_history()
    base = base_torch_module(load_policy(args.base))
    export_onnx(
        BasePlusResidual(base, DriveScale(gain, args.bound, history)),  # type: ignore[arg-type]
        path, history, sources={
            "oracle": f"drive scale g={gain:g}, bound {args.bound:g} rad",
            # deployed under the hand's step cap, as trained residuals are since session 28
            "max_target_step_rad": MAX_TARGET_STEP_RAD,
        },
    )  # fmt: skip


def demo_run_summary(run: Path) -> dict:
    """The ``summary.json`` of a finished ``dexndm demo`` run (its config and result rows)."""
    import json

    path = run / "summary.json"
    if not path.is_file():
        raise SystemExit(f"{path} not found: --demo-run takes the --out folder of a finished dexndm demo")
    return json.loads(path.read_text())


def score_in_demo_run(args: Args, summary: dict, policies: list[tuple[str, Path]]) -> None:
    """Each oracle evaluated as the demo run ``args.demo_run`` (whose ``summary``) evaluated its
    policies; one table."""
    from dexndm.demo import DemoConfig, evaluate_reality_cells
    from dexndm.hand.constants import CONTROL_DT

    assert args.demo_run is not None
    cfg = DemoConfig(**{**summary["config"], "progress": False})
    episode_s = cfg.episode_steps * CONTROL_DT
    names = {
        "sim": "base in training sim",
        "direct": "direct transfer",
        "dexndm": "the run's base + residual",
    }
    cells = f"{cfg.reality}; {', '.join(cfg.wrists)}; {', '.join(cfg.axes)}"
    lines = [f"| policy ({cells}) | Rot (rad) | TTF (s) | omega.k |", "|---|---|---|---|"]
    lines += [
        f"| {names[k]} | {r['rot']:.2f} +- {r['rot_std']:.2f} | {r['ttf_s']:.1f} | {r['omega_k']:.3f} |"
        for k, r in summary["results"].items()
    ]
    for label, path in policies:
        o = evaluate_reality_cells(cfg, path, path.parent / "eval").overall
        lines.append(
            f"| {label} | {o['rot_mean']:.2f} +- {o['rot_std']:.2f} | {o['ttf_mean'] * episode_s:.1f} "
            f"| {o['omega_k_mean']:.3f} |"
        )
        print(lines[-1], flush=True)
    if args.in_model:
        lines += [
            "",
            "| in the run's models | position error (mrad) | current error (mA) | objective "
            "| mean correction (mrad) |",
            "|---|---|---|---|---|",
        ]
        history = cfg_history()
        labels = [label for label, _ in policies]
        gains = zip(args.gains, labels, strict=True)
        modules = [(lab, DriveScale(g, args.bound, history)) for g, lab in gains]
        lines += in_model_scores(args.demo_run, cfg, modules)
    text = "\n".join(lines) + "\n"
    (args.out / "table.md").write_text(text)
    print(text)


def cfg_history() -> int:
    from dexndm.residual.model import ResidualConfig

    return ResidualConfig().history


def in_model_scores(run: Path, cfg, modules: list[tuple[str, nn.Module]]) -> list[str]:
    """Each ``(label, residual-like module)`` scored as ``dexndm train residual`` scores its
    checkpoints (held-out windows of the episodes it trained on, 10 steps closed loop through its
    dynamics model against the sim-trained model's rollout, currents through its drive model):
    one table row per module, with the run's trained residual first."""
    from dexndm.demo import residual_command
    from dexndm.residual.checkpoint import load_residual
    from dexndm.residual.rollout import ResidualRollout, evaluate_residual

    # the models, held-out windows and settings the demo's residual stage trained and scored with
    cmd = residual_command(cfg, run)
    inputs, fit = cmd.inputs(), cmd.fit_config()
    trained, _ = load_residual(run / "residual" / "residual.pt")
    rows = []
    for label, module in [("the run's residual", trained), *modules]:
        graph = ResidualRollout(
            module, inputs.dynamics, inputs.evaluation.obs_lag, fit.mode, inputs.reference, inputs.drive,
            fit.max_target_step, inputs.reference_drive,
        )  # fmt: skip
        ev = evaluate_residual(
            graph, inputs.evaluation, fit.eval_horizon, fit.eval_windows, drive_weight=fit.drive_weight
        )
        scored = inputs.drive is not None
        current = f"{ev.drive_uncorrected_mae:.0f} -> {ev.drive_corrected_mae:.0f}" if scored else "-"
        objective = f"{ev.objective:.2f}" if scored else "-"
        rows.append(
            f"| {label} | {1e3 * ev.uncorrected_mae:.1f} -> {1e3 * ev.corrected_mae:.1f} | {current} "
            f"| {objective} | {1e3 * ev.mean_abs_correction:.0f} |"
        )
        print(rows[-1], flush=True)
    return rows


def main(args: Args) -> None:
    summary = None
    if args.demo_run is not None:  # the run's base and reality, not the palm-up defaults
        summary = demo_run_summary(args.demo_run)
        config = summary["config"]
        args = Args(**{**vars(args), "base": config["base"], "reality": config["reality"]})
    policies = []
    for gain in args.gains:
        path = args.out / f"g{gain:g}_b{args.bound:g}" / "policy.onnx"
        export_oracle(args, gain, path)
        policies.append((f"drive x{gain:g}, bound {1e3 * args.bound:g} mrad", path))
    if summary is not None:
        score_in_demo_run(args, summary, policies)
        return
    score_table(args.reality, args.base, args.episodes, args.seeds, args.out, policies)


if __name__ == "__main__":
    main(tyro.cli(Args))
