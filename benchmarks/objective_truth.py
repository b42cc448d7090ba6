"""Does the residual objective rank corrections as the reality does, or only as the models do?

The residual is trained to make the real hand's joints follow what the sim's would do under the
base's targets, with both sides predicted by models: the real-hand dynamics model under base +
correction, the sim-trained model under the base alone (docs/results.md 4k-4l). Where a correction
that the objective rates badly turns the object far better than the trained residual (the drive
oracle of ``gain_oracle.py`` at base up on soft), either the real-hand model misjudges the
corrections (the residual then partly optimises model error) or matching the sim's joints is not
what turns the object. SimulatedReality lets us take the real-hand model out: run each policy on
the reality, and score its actual joint positions against the sim-trained model's prediction from
the same history under the base's own targets (the "true" objective, position term). Beside it,
the same windows through the real-hand model (what training sees) and that model's own error.

    .venv/bin/python benchmarks/objective_truth.py --reality benchmarks/profiles/soft.toml \\
        --wrist base_up --run out/s33/bu_soft_agg2o \\
        --policies checkpoints/generalist_wrists/generalist.pt out/s33/bu_soft_agg2o/residual/policy.onnx \\
            out/s32/gain_oracle_bu_soft/g4_b0.4/policy.onnx

A diagnostic (it needs a reality whose episodes can be rerun at will), not part of the method.
Episodes use the training-split shapes and ``task_data_store``'s grasp draws (none is an evaluation
episode).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import tyro

from dexndm.collect.task import GRASP_SEED_OFFSET, episode_draw, record_episode
from dexndm.dynamics.checkpoint import load_dynamics
from dexndm.eval.cells import make_cells
from dexndm.eval.policies import load_policy
from dexndm.objects import resolve_object
from dexndm.residual.rollout import rollout_with_currents
from dexndm.sim.grasp import GraspConfig, cached_grasps
from dexndm.sim.wrists_axes import parse_wrist


@dataclass
class Args:
    reality: str = "benchmarks/profiles/soft.toml"
    wrist: str = "base_up"
    axis: str = "+z"
    objects: tuple[str, ...] = ("normal_cylinder",)
    run: Path = Path("out/demo")
    """A ``dexndm demo`` run: its ``ndm/dynamics.pt`` (real hand) and ``ndm/pretrain/best.pt`` (sim)."""
    policies: tuple[str, ...] = ("checkpoints/generalist/generalist.pt",)
    """Policies to run (base, base + residual ONNX, oracle ONNX, ...); their base's targets are the
    reference's input, read from the policy's target chain when it has one."""
    episodes: int = 16
    episode_steps: int = 400
    horizon: int = 10
    grasp_candidates: int = 256
    seed: int = 0
    first_episode: int = 2000
    """Episode indices (grasp draws) start here: apart from task_data_store's 0.. and 1000.. ranges."""


def _windows(x: np.ndarray, start: int, stop: int, length: int) -> np.ndarray:
    """``(N, length, J)``: ``x[t + start : t + start + length]`` for each window end t in ``stop``."""
    return np.stack([x[t + start : t + start + length] for t in stop])


def score_episode(
    sim_model,
    real_model,
    q: np.ndarray,
    sent: np.ndarray,
    base: np.ndarray,
    horizon: int,
    current: np.ndarray | None = None,
    sim_drive=None,
    real_drive=None,
) -> dict[str, np.ndarray] | None:
    """Per window, mean |.| over the horizon's steps and joints: ``true_gap`` (the hand's joints
    against the sim model under the base's targets), ``model_gap`` (the real-hand model under the
    sent targets against the same), ``model_error`` (the real-hand model against the hand); with
    ``current`` (mA, read with each state) and both drive models, the same three for currents."""
    w = sim_model.window
    ends = range(w - 1, len(q) - horizon)
    if len(ends) == 0:
        return None
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    q_hist = t(_windows(q, -(w - 1), ends, w))
    q_future = t(_windows(q, 1, ends, horizon))
    with_drive = current is not None and sim_drive is not None and real_drive is not None
    with torch.no_grad():
        base_seq, sent_seq = (t(_windows(x, -(w - 1), ends, w + horizon - 1)) for x in (base, sent))
        reference, ref_current = rollout_with_currents(
            sim_model, sim_drive if with_drive else None, q_hist, base_seq
        )
        predicted, pred_current = rollout_with_currents(
            real_model, real_drive if with_drive else None, q_hist, sent_seq
        )
    gap = lambda a, b: (a - b).abs().mean(dim=(1, 2)).numpy()  # noqa: E731
    out = {
        "true_gap": gap(q_future, reference),
        "model_gap": gap(predicted, reference),
        "model_error": gap(predicted, q_future),
    }
    if with_drive:
        i_future = t(_windows(current, 1, ends, horizon))
        out |= {
            "true_current_gap": gap(i_future, ref_current),
            "model_current_gap": gap(pred_current, ref_current),
            "drive_error": gap(pred_current, i_future),
        }
    return out


def main(args: Args) -> None:
    from dexndm.dynamics.drive import load_drive

    torch.set_num_threads(1)
    real_model = load_dynamics(args.run / "ndm" / "dynamics.pt")
    sim_model = load_dynamics(args.run / "ndm" / "pretrain" / "best.pt", expected_config=real_model.config)
    drives = args.run / "drive" / "pretrain.pt", args.run / "drive" / "drive.pt"
    sim_drive, real_drive = (
        (load_drive(p) for p in drives) if all(p.exists() for p in drives) else (None, None)
    )
    cells = make_cells(args.objects, (args.wrist,), (args.axis,), split="train")
    grasps = {
        c.object: cached_grasps(
            resolve_object(c.object), parse_wrist(c.wrist), GraspConfig(candidates=args.grasp_candidates),
            seed=args.seed,
        )
        for c in cells
    }  # fmt: skip
    header = f"| policy ({args.reality}; {args.wrist}; {args.axis}; {args.episodes} episodes) | Rot (rad) | "
    header += "true gap (mrad) | gap through the model (mrad) | model error (mrad) | "
    if sim_drive is not None:
        header += "true current gap (mA) | through the models (mA) | drive model error (mA) | "
    rows = [header + "windows |", "|---" * (header.count("|")) + "|"]
    for path in args.policies:
        rots, scores = [], []
        for e in range(args.first_episode, args.first_episode + args.episodes):
            cell = cells[e % len(cells)]
            draw = episode_draw(args.seed, e)
            # with observations, a base + correction policy's episode carries its base's targets
            arrays, stats = record_episode(
                load_policy(path), args.reality, cell, grasps[cell.object], draw % len(grasps[cell.object]),
                args.seed + GRASP_SEED_OFFSET + e, args.episode_steps, observations=True,
            )  # fmt: skip
            rots.append(stats["rot"])
            sent = arrays["joint_targets"]
            base = arrays.get("base_targets", sent)  # a plain base's sent targets are its own
            scored = score_episode(
                sim_model, real_model, arrays["joint_pos"], sent, base, args.horizon,
                arrays["motor_current"], sim_drive, real_drive,
            )  # fmt: skip
            if scored is not None:
                scores.append(scored)
        merged = {k: np.concatenate([s[k] for s in scores]) for k in scores[0]}
        cells_out = [f"{np.mean(rots):.2f} +- {np.std(rots):.2f}"]
        cells_out += [f"{1e3 * merged[k].mean():.1f}" for k in ("true_gap", "model_gap", "model_error")]
        if "true_current_gap" in merged:
            cells_out += [
                f"{merged[k].mean():.0f}" for k in ("true_current_gap", "model_current_gap", "drive_error")
            ]
        rows.append(f"| {path} | {' | '.join(cells_out)} | {len(merged['true_gap'])} |")
        print(rows[-1], flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main(tyro.cli(Args))
