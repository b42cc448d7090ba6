"""Control for the residual's measured gain: base + a constant joint-target offset that knows nothing.

Each control is the base policy with a fixed offset of ``--offset-mrad`` on every joint, the signs
drawn at random (one draw per ``--draws`` seed), exported through the same base + residual ONNX
path as a trained residual (:class:`dexndm.residual.export.BasePlusResidual`; a residual net
whose last layer has zero weights outputs ``max_correction * tanh(bias)`` whatever it sees) and
scored with ``dexndm eval`` on the reality with the grasps of each ``--seeds`` seed, the
evaluation every residual of docs/results.md sections 4b-4c had. If such offsets move Rot as
much as a trained residual, the residual's gain is not evidence that it learned the reality.

    .venv/bin/python benchmarks/residual_controls.py --reality default --out out/residual_controls

A rerun with the same ``--out`` reuses every finished evaluation.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import tyro

# the sibling script: running a benchmark puts benchmarks/ on sys.path
from residual_by_model import eval_args, evaluate_palm_up, made_by

from dexndm.eval.report import format_gap_closed, format_rot_ratio


@dataclass
class Args:
    base: str = "checkpoints/generalist/generalist.pt"
    reality: str = "default"
    offset_mrad: float = 8.0
    """Size of the offset on every joint (a trained 12 mrad residual's mean |correction| is ~10)."""
    draws: tuple[int, ...] = (10, 11, 12)
    """One control per draw: the random generator seed of its signs."""
    seeds: tuple[int, ...] = (0, 1, 2)
    episodes: int = 10
    """Evaluation episodes per test shape (normal cylinders, palm up, +z)."""
    out: Path = Path("out/residual_controls")


def constant_offset_policy(args: Args, draw: int, path: Path) -> list[float]:
    """Export base + a constant offset (random signs from ``draw``) to ``path``; returns the offset (rad)."""
    from dexndm.eval.policies import load_policy
    from dexndm.hand.constants import MAX_TARGET_STEP_RAD, NUM_JOINTS
    from dexndm.residual.export import BasePlusResidual, base_torch_module, export_onnx
    from dexndm.residual.model import ResidualConfig, ResidualPolicyNet

    bound = ResidualConfig().max_correction
    offset = np.random.default_rng(draw).choice([-1.0, 1.0], NUM_JOINTS) * args.offset_mrad * 1e-3
    if not np.all(np.abs(offset) < bound):
        raise ValueError(f"--offset-mrad must stay below the residual's bound, {1e3 * bound:g} mrad")
    if not path.exists():
        net = ResidualPolicyNet(ResidualConfig())
        with torch.no_grad():  # the head's weights start at zero: the output is bound * tanh(bias)
            net.head.bias.copy_(torch.as_tensor(np.arctanh(offset / bound), dtype=torch.float32))
        base = base_torch_module(load_policy(args.base))
        export_onnx(
            BasePlusResidual(base, net.eval()), path, net.config.history,
            sources={
                "control": f"constant offset, signs from draw {draw}", "offset_rad": offset.tolist(),
                "max_target_step_rad": MAX_TARGET_STEP_RAD,  # deployed as a trained residual is
            },
        )  # fmt: skip
    return offset.tolist()


def _eval_folder(policy: Path, reality: str, episodes: int, seed: int) -> Path:
    """Where a policy's evaluation on ``reality`` with the grasps of ``seed`` is kept: beside the
    policy, one folder per reality (a policy is often scored on several). Evaluations made before
    realities had their own folders sit in ``seedS`` and are reused when the same command made
    them."""
    legacy = policy.parent / f"seed{seed}"
    if made_by(legacy / policy.stem / "summary.json", eval_args(policy, reality, episodes, seed, legacy)):
        return legacy
    return policy.parent / f"eval_{Path(reality).stem}" / f"seed{seed}"


def score_table(
    reality: str,
    base: str,
    episodes: int,
    seeds: tuple[int, ...],
    out: Path,
    policies: list[tuple[str, Path]],
    sim_rot: float | None = None,
) -> str:
    """Direct transfer and each ``(label, policy.onnx)`` scored on the grasps of every seed (each
    policy's evaluations beside its file); prints each row as it lands and writes ``out/table.md``.
    With ``sim_rot`` (the base's Rot in the training sim on the same grasps) a last column gives
    the share of the sim-to-real gap closed, (Rot - direct) / (sim_rot - direct)."""

    def rot_ttf(policy: str | Path, seed: int, folder: Path) -> tuple[float, float]:
        overall = evaluate_palm_up(policy, reality, episodes, seed, folder)
        return overall["rot_mean"], 20 * overall["ttf_mean"]  # TTF: a fraction of the 20 s episode

    def row(label: str, scores: list[tuple[float, float]], direct_mean: float) -> str:
        rot = statistics.fmean(r for r, _ in scores)
        closed = "" if sim_rot is None else f" {format_gap_closed(rot, direct_mean, sim_rot)} |"
        return (
            f"| {label} | {', '.join(f'{r:.3f}' for r, _ in scores)} | {rot:.2f} "
            f"| {statistics.fmean(t for _, t in scores):.2f} | {format_rot_ratio(rot, direct_mean)} |{closed}"
        )

    direct = [rot_ttf(base, s, out / "direct" / f"seed{s}") for s in seeds]
    d_mean = statistics.fmean(r for r, _ in direct)
    gap_head = ("", "") if sim_rot is None else (" gap closed |", "---|")
    lines = [
        f"| policy ({reality}) | Rot per seed (rad) | Rot (rad) | TTF (s) | / direct |{gap_head[0]}",
        f"|---|---|---|---|---|{gap_head[1]}",
        row("direct transfer", direct, d_mean),
    ]
    for label, policy in policies:
        scores = [rot_ttf(policy, s, _eval_folder(policy, reality, episodes, s)) for s in seeds]
        lines.append(row(label, scores, d_mean))
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    (out / "table.md").write_text(text)
    print(text)
    return text


def main(args: Args) -> None:
    policies = []
    for draw in args.draws:
        path = args.out / f"offset_draw{draw}" / "policy.onnx"
        signs = "".join("+" if o > 0 else "-" for o in constant_offset_policy(args, draw, path))
        policies.append((f"constant {args.offset_mrad:g} mrad, signs {signs}", path))
    score_table(args.reality, args.base, args.episodes, args.seeds, args.out, policies)


if __name__ == "__main__":
    main(tyro.cli(Args))
