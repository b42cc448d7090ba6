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
    from dexndm.residual.model import ResidualConfig

    if path.exists():
        return
    history = ResidualConfig().history
    base = base_torch_module(load_policy(args.base))
    export_onnx(
        BasePlusResidual(base, DriveScale(gain, args.bound, history)),  # type: ignore[arg-type]
        path, history, sources={
            "oracle": f"drive scale g={gain:g}, bound {args.bound:g} rad",
            # deployed under the hand's step cap, as trained residuals are since session 28
            "max_target_step_rad": MAX_TARGET_STEP_RAD,
        },
    )  # fmt: skip


def main(args: Args) -> None:
    policies = []
    for gain in args.gains:
        path = args.out / f"g{gain:g}_b{args.bound:g}" / "policy.onnx"
        export_oracle(args, gain, path)
        policies.append((f"drive x{gain:g}, bound {1e3 * args.bound:g} mrad", path))
    score_table(args.reality, args.base, args.episodes, args.seeds, args.out, policies)


if __name__ == "__main__":
    main(tyro.cli(Args))
