"""Diagnostic: the joint-wise model fine-tuned on real *task* episodes instead of Chaos Box data.

The Chaos Box is the method's way to get real data without resets; this asks what the residual
could do if the model had seen the task itself. On a finished ``benchmarks/ndm_data_efficiency.py``
run (its ``sim/``, ``models/joint_pretrain.pt`` and held-out ``task_episodes.npz``) it:

1. records ``--episodes`` more task episodes on the same reality (the base policy turning test
   normal cylinders palm up about +z; other hand seeds and grasp draws than the held-out ones,
   the same shapes), cut into ``--segment``-step pieces;
2. fine-tunes a copy of the sim pre-trained joint-wise model on them (9:1 split, best eval, as
   ``dexndm train dynamics`` does) and scores it on the held-out task episodes;
3. lays ``--out`` out as a data-efficiency run (``models/joint_finetune_N.pt``, ``sim``), so
   ``benchmarks/residual_by_model.py --run OUT --models joint:N`` trains and scores residuals
   through it.

A real hand would need a person to reset the object after every drop to record such data.

    .venv/bin/python benchmarks/task_data_model.py --run out/de_soft \\
        --reality benchmarks/profiles/soft.toml --episodes 400 --out out/task_soft
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import tyro

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ndm_data_efficiency as de  # noqa: E402

from dexndm.dynamics import EpisodeWindows, open_loop_error  # noqa: E402
from dexndm.dynamics.checkpoint import load_dynamics, save_dynamics  # noqa: E402


@dataclass
class Args:
    run: Path
    """A finished ``benchmarks/ndm_data_efficiency.py`` output folder on ``--reality``."""
    reality: str = "default"
    base: str = "checkpoints/generalist/generalist.pt"
    episodes: int = 200
    segment: int = 60
    first_seed: int = 1000
    """Hand seeds ``first_seed + e`` and grasp draws from ``first_seed`` (the held-out set uses 1-8)."""
    finetune_steps: int = 1500
    window: int = 10
    hidden: tuple[int, ...] = (128, 128)
    seed: int = 0
    threads: int = 2
    out: Path = Path("out/task_data_model")


def task_training_segments(args: Args, run: de.Args) -> dict[str, np.ndarray]:
    """(1): ``{joint_pos, joint_targets}`` ``(S, segment, 16)``; reuses ``OUT/task_train.npz``."""
    path = args.out / "task_train.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    out = de.record_task_segments(run, args.episodes, args.first_seed, args.first_seed, log_every=20)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def main(args: Args) -> None:
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    # OUT as a data-efficiency run of its own: the sim episodes and pre-trained model of --run
    run = de.Args(
        base=args.base, reality=args.reality, segment=args.segment, window=args.window,
        hidden=args.hidden, seed=args.seed, threads=args.threads, out=args.out,
    )  # fmt: skip
    train = task_training_segments(args, run)
    models = args.out / "models"
    models.mkdir(parents=True, exist_ok=True)
    for name in ("joint_pretrain.pt", "joint_pretrain.pt.json"):
        if not (models / name).exists():
            shutil.copy2(args.run / "models" / name, models / name)
    sim = args.out / "sim"
    if not sim.exists():
        sim.symlink_to((args.run / "sim").resolve(), target_is_directory=True)
    start = de.pretrained(run, "joint")  # loads the copy
    size = len(train["joint_pos"])
    path = models / f"joint_finetune_{size}.pt"
    if path.exists():
        model = load_dynamics(path, expected_config=start.config)
    else:
        model = copy.deepcopy(start)
        best = de.fit_on_arrays(run, model, train, args.finetune_steps, 3e-4)
        save_dynamics(
            path, model, extra={"stage": "finetune", "data": "task", "segments": size, "best_step": best}
        )
    with np.load(args.run / "task_episodes.npz") as z:
        held = EpisodeWindows.from_arrays(z["joint_pos"], z["joint_targets"], args.window)
    errors = {"sim only": open_loop_error(start, held, 10)}
    errors[f"task data, {size} segments"] = open_loop_error(model, held, 10)
    hold = errors["sim only"]
    rows = {
        "hold (nothing moves)": {
            "one_step_mrad": 1e3 * hold.hold_one_step,
            "ten_step_mrad": 1e3 * hold.hold_final,
        }
    }
    for label, err in errors.items():
        rows[label] = {"one_step_mrad": 1e3 * err.one_step, "ten_step_mrad": 1e3 * err.final}
    (args.out / "results.json").write_text(json.dumps({"args": repr(args), "rows": rows}, indent=2))
    for label, r in rows.items():
        print(f"{label:>28}: 1-step {r['one_step_mrad']:.2f} mrad, 10-step {r['ten_step_mrad']:.2f} mrad")
    print(
        f"wall time {time.perf_counter() - t0:.0f} s; residuals: benchmarks/residual_by_model.py --run "
        f"{args.out} --models joint:{size}"
    )


if __name__ == "__main__":
    main(tyro.cli(Args))
