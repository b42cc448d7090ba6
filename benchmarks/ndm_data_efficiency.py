"""Dynamics models on SimulatedReality: prediction error on real *task* episodes vs Chaos Box data size.

Issue 5's data-efficiency experiment, on the ``default`` reality profile (or ``--reality FILE``):

1. simulated episodes of the base policy (training sim) for pre-training;
2. Chaos Box episodes on the reality (``dexndm collect``, replayed base actions under load), the
   largest size once; smaller sizes are its first N episodes;
3. held-out real *task* episodes: the base policy turning a test-split object on the reality,
   recorded as (measured q, sent target) per step, the same layout as collected episodes;
4. per model kind (joint-wise, finger-wise, whole-hand): pre-train on (1), then for each size N
   fine-tune a copy on the first N Chaos Box episodes (9:1 split, best-eval checkpoint, as
   ``dexndm train dynamics`` does) and score one-step and 10-step open-loop errors on (3).
   N = 0 is the sim-pretrained model alone; "hold" predicts that nothing moves.

Every stage keeps its output in ``--out`` and is reused by a rerun (an interrupted run resumes).

    .venv/bin/python benchmarks/ndm_data_efficiency.py                     # 12, 48, 192 episodes
    .venv/bin/python benchmarks/ndm_data_efficiency.py --sizes 50 200 1000 4000 --finetune-steps 4000
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import tyro

from dexndm.data.atomic import atomic_write_text
from dexndm.dynamics import EpisodeWindows, FitConfig, fit_dynamics, open_loop_error, split_windows
from dexndm.dynamics.checkpoint import load_dynamics, save_dynamics
from dexndm.dynamics.datasets import load_episode_arrays
from dexndm.dynamics.models import MODEL_NAMES, DynamicsConfig, build_dynamics


@dataclass
class Args:
    base: str = "checkpoints/generalist/generalist.pt"
    reality: str = "default"
    sizes: tuple[int, ...] = (12, 48, 192)
    """Chaos Box episode counts to fine-tune on (the paper's: about 50, 200, 1000, 4000)."""
    kinds: tuple[str, ...] = ("joint", "finger", "whole")
    """Model kinds (joint, finger, whole). ``KIND@W`` is that kind with hidden widths (W, W)
    instead of ``--hidden`` (per joint for the joint-wise model): ``joint@32`` asks how narrow the
    joint-wise MLPs can be before prediction suffers."""
    sim_episodes: int = 96
    task_episodes: int = 8
    """Held-out real task episodes (base policy on the reality, test-split shapes)."""
    segment: int = 60
    """Task episodes are cut into segments of this many steps (drops end episodes early)."""
    objects: tuple[str, ...] = ("normal_cylinder",)
    wrist: str = "palm_up"
    axis: str = "+z"
    pretrain_steps: int = 3000
    finetune_steps: int = 1500
    finetune_horizon: int = 1
    """Fine-tune on the mean error of this many open-loop steps (``FitConfig.rollout_horizon``; the
    best checkpoint is picked on the same horizon). 1 is the paper's one-step loss; each step
    costs about this many times as much. Models fine-tuned with another horizon are kept apart."""
    window: int = 10
    hidden: tuple[int, ...] = (128, 128)
    seed: int = 0
    threads: int = 2
    out: Path = Path("out/ndm_data_efficiency")


# settings that do not change what a run's stores, task episodes and models hold: a rerun may
# add sizes or kinds, or use other threads, on the same --out
_PER_INVOCATION = ("sizes", "kinds", "finetune_horizon", "threads", "out")
RUN_RECORD = "run.json"


def _run_settings(args: Args) -> dict:
    return {k: v for k, v in asdict(args).items() if k not in _PER_INVOCATION}


def record_settings(out: Path, settings: dict) -> None:
    """Write ``settings`` to ``out/run.json``, or check them against the run already there: every
    stage reuses what it finds in ``out``, so another reality or base on the same folder would
    silently score the first run's models."""
    path = out / RUN_RECORD
    want = json.loads(json.dumps(settings, default=str))  # tuples and lists, paths and strings compare equal
    if path.exists():
        have = json.loads(path.read_text())
        diff = {k: (have.get(k), v) for k, v in want.items() if have.get(k) != v}
        if diff:
            said = ", ".join(f"{k} {h!r} (now {w!r})" for k, (h, w) in diff.items())
            raise SystemExit(f"{out} was made with {said}: pass those settings or another --out")
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(want, indent=2) + "\n")


def load_run(out: Path) -> Args:
    """The settings a finished run in ``out`` was made with (for scripts that build on it)."""
    path = out / RUN_RECORD
    if not path.exists():
        raise SystemExit(f"{out} has no {RUN_RECORD}: run benchmarks/ndm_data_efficiency.py --out {out}")
    have = json.loads(path.read_text())
    known = {f.name for f in fields(Args)}
    if unknown := sorted(set(have) - known):
        raise SystemExit(f"{path} has settings unknown to this script ({unknown}): another version made it")
    tuples = {k: tuple(v) if isinstance(v, list) else v for k, v in have.items()}
    return Args(**tuples, out=out)


def collect_stores(args: Args) -> None:
    """(1) and (2): the simulated and the Chaos Box episode stores (both resume)."""
    from dexndm.collect.cli import CollectCmd
    from dexndm.collect.config import CollectConfig, ReplayConfig
    from dexndm.dynamics.sim_episodes import SimEpisodeConfig, record_policy_episodes
    from dexndm.sim.config import EnvConfig

    env_cfg = EnvConfig(objects=args.objects, wrists=(args.wrist,), axes=(args.axis,), seed=args.seed)
    sim_cfg = SimEpisodeConfig(episodes=args.sim_episodes, steps=400, num_envs=16, seed=args.seed)
    record_policy_episodes(args.base, env_cfg, args.out / "sim", sim_cfg, progress=True).close()
    collect = CollectConfig(
        mode="chaos", source=args.base, episodes=max(args.sizes), wrist=(args.wrist,), steps=400,
        seed=args.seed, replay=ReplayConfig(objects=args.objects),
    )  # fmt: skip
    CollectCmd(hand="sim", reality=args.reality, out=args.out / "real", progress=True, config=collect).run()


def record_task_episodes(args: Args) -> dict[str, np.ndarray]:
    """(3): the base policy on the reality, test-split shapes; ``{joint_pos, joint_targets}`` (E, T, 16)."""
    path = args.out / "task_episodes.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    # other grasp draws than an evaluation with this seed; hand seeds seed + 1 + e
    out = record_task_segments(args, args.task_episodes, args.seed + 1, args.seed + 1)
    np.savez(path, **out)
    return out


def record_task_segments(
    args: Args, episodes: int, draw_seed: int, first_hand_seed: int, log_every: int = 1
) -> dict[str, np.ndarray]:
    """The base policy turning ``args.objects`` (test split) on ``args.reality``, ``episodes``
    times, cut into ``args.segment``-step pieces: ``{joint_pos, joint_targets}`` ``(S, segment, 16)``.

    Grasps are drawn from the seed-``args.seed`` grasp cache with ``draw_seed``; episode ``e``
    runs on a hand seeded ``first_hand_seed + e``.
    """
    from dexndm.collect.task import record_episode
    from dexndm.eval.cells import make_cells
    from dexndm.eval.policies import load_policy
    from dexndm.objects import resolve_object
    from dexndm.sim.grasp import GraspConfig, cached_grasps
    from dexndm.sim.scene import PhysicsConfig
    from dexndm.sim.wrists_axes import parse_wrist

    policy = load_policy(args.base)
    cells = make_cells(args.objects, (args.wrist,), (args.axis,), split="test")
    grasp_sets = {  # one per shape, read once rather than per episode
        cell.object: cached_grasps(
            resolve_object(cell.object), parse_wrist(cell.wrist), GraspConfig(), PhysicsConfig(),
            seed=args.seed,
        )
        for cell in cells
    }  # fmt: skip
    rng = np.random.default_rng(draw_seed)
    qs, targets = [], []
    for e in range(episodes):
        cell = cells[e % len(cells)]
        grasps = grasp_sets[cell.object]
        arrays, _ = record_episode(
            policy, args.reality, cell, grasps, int(rng.integers(len(grasps))), first_hand_seed + e
        )
        # an episode ends early when the object drops, so episodes are cut into equal segments
        q, a = arrays["joint_pos"], arrays["joint_targets"]
        for s in range(0, len(q) - args.segment + 1, args.segment):
            qs.append(q[s : s + args.segment])
            targets.append(a[s : s + args.segment])
        if (e + 1) % log_every == 0:
            print(f"task episode {e + 1}/{episodes}: {cell.object}, {len(q)} steps", flush=True)
    if not qs:
        raise RuntimeError(f"no task episode lasted {args.segment} steps: the base policy drops the object")
    return {"joint_pos": np.stack(qs), "joint_targets": np.stack(targets)}


def _fit_on_store(args: Args, model, root: Path, indices, steps: int, lr: float, horizon: int = 1) -> int:
    """Fit ``model`` in place on the store's episodes; see :func:`fit_on_arrays`."""
    arrays = load_episode_arrays(root, indices=indices, min_steps=args.window + 11)
    return fit_on_arrays(args, model, arrays, steps, lr, horizon)


def fit_on_arrays(
    args: Args, model, arrays: dict[str, np.ndarray], steps: int, lr: float, horizon: int = 1
) -> int:
    """Fit ``model`` in place on ``{joint_pos, joint_targets}`` episodes (9:1 split, best eval
    kept, as ``dexndm train dynamics`` does); returns the step of the kept weights."""
    train, evaluation = split_windows(
        arrays["joint_pos"], arrays["joint_targets"], args.window, 1, 0.1, args.seed
    )
    fit = FitConfig(
        steps=steps, lr=lr, eval_every=max(steps // 10, 1), seed=args.seed, rollout_horizon=horizon
    )
    return fit_dynamics(model, train, evaluation, fit).best_step


def parse_variant(args: Args, variant: str) -> tuple[str, tuple[int, ...]]:
    """``"joint"`` -> (joint, --hidden); ``"joint@32"`` -> (joint, (32, 32))."""
    kind, at, width = variant.partition("@")
    if kind not in MODEL_NAMES:
        raise SystemExit(f"unknown model kind {kind!r} in --kinds {variant!r}: use {sorted(MODEL_NAMES)}")
    if not at:
        return kind, tuple(args.hidden)
    if not width.isdigit() or int(width) < 1:
        raise SystemExit(f"--kinds {variant!r}: the width after @ must be a positive integer, as in joint@32")
    return kind, (int(width), int(width))


def variant_name(args: Args, variant: str) -> str:
    kind, hidden = parse_variant(args, variant)
    return MODEL_NAMES[kind] if "@" not in variant else f"{MODEL_NAMES[kind]} {hidden}"


def pretrained(args: Args, variant: str) -> torch.nn.Module:
    path = args.out / "models" / f"{variant}_pretrain.pt"
    kind, hidden = parse_variant(args, variant)
    model = build_dynamics(DynamicsConfig(kind=kind, window=args.window, hidden=hidden))
    if path.exists():
        # the built model's config, which fills in what the kind implies (the finger map)
        return load_dynamics(path, expected_config=model.config)
    _fit_on_store(args, model, args.out / "sim", None, args.pretrain_steps, 1e-3)
    save_dynamics(path, model, extra={"stage": "pretrain"})
    return model


def finetuned(args: Args, kind: str, size: int, start: torch.nn.Module) -> torch.nn.Module:
    horizon = "" if args.finetune_horizon == 1 else f"_h{args.finetune_horizon}"
    path = args.out / "models" / f"{kind}_finetune_{size}{horizon}.pt"
    if path.exists():
        return load_dynamics(path, expected_config=start.config)
    model = copy.deepcopy(start)
    best = _fit_on_store(
        args, model, args.out / "real", range(size), args.finetune_steps, 3e-4, args.finetune_horizon
    )
    save_dynamics(path, model, extra={"stage": "finetune", "episodes": size, "best_step": best})
    return model


def main(args: Args) -> None:
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    record_settings(args.out, _run_settings(args))
    collect_stores(args)
    task = record_task_episodes(args)
    task_windows = EpisodeWindows.from_arrays(task["joint_pos"], task["joint_targets"], args.window)
    rows = []
    for kind in args.kinds:
        parse_variant(args, kind)
    for kind in args.kinds:
        start = pretrained(args, kind)
        for size in (0, *args.sizes):
            model = start if size == 0 else finetuned(args, kind, size, start)
            err = open_loop_error(model, task_windows, 10)
            rows.append({
                "model": variant_name(args, kind), "episodes": size, "one_step_mrad": 1e3 * err.one_step,
                "ten_step_mrad": 1e3 * err.final, "hold_one_step_mrad": 1e3 * err.hold_one_step,
                "hold_ten_step_mrad": 1e3 * err.hold_final,
            })  # fmt: skip
            r = rows[-1]
            print(
                f"{r['model']:>11} N={size:>5}: 1-step {r['one_step_mrad']:.2f} mrad, "
                f"10-step {r['ten_step_mrad']:.2f} mrad ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    hold = rows[0]
    lines = [
        "| model | Chaos Box episodes | 1-step (mrad) | 10-step (mrad) |",
        "|---|---|---|---|",
        f"| hold (nothing moves) | - | {hold['hold_one_step_mrad']:.2f} | {hold['hold_ten_step_mrad']:.2f} |",
    ]
    for r in rows:
        n = r["episodes"] or "0 (sim only)"
        lines.append(f"| {r['model']} | {n} | {r['one_step_mrad']:.2f} | {r['ten_step_mrad']:.2f} |")
    lines += [
        "",
        f"{args.task_episodes} held-out task episodes on the '{args.reality}' reality, cut into "
        f"{task_windows.num_episodes} segments of {args.segment} steps ({len(task_windows)} windows); base "
        f"{args.base}; pre-train {args.sim_episodes} sim episodes x {args.pretrain_steps} steps, fine-tune "
        f"{args.finetune_steps} steps on a {args.finetune_horizon}-step loss; "
        f"wall time {time.perf_counter() - t0:.0f} s.",
    ]
    text = "\n".join(lines) + "\n"
    (args.out / "table.md").write_text(text)
    (args.out / "results.json").write_text(json.dumps({"rows": rows, "args": str(args)}, indent=2) + "\n")
    plot(rows, args)
    print(text)


def plot(rows: list[dict], args: Args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in zip(axes, ("one_step", "ten_step"), ("one-step", "10-step open loop"), strict=True):
        for name in dict.fromkeys(r["model"] for r in rows):
            sel = [r for r in rows if r["model"] == name]
            ax.plot([max(r["episodes"], 1) for r in sel], [r[f"{key}_mrad"] for r in sel], "o-", label=name)
        ax.axhline(rows[0][f"hold_{key}_mrad"], color="gray", ls="--", label="hold")
        ax.set_xscale("log")
        ax.set_xlabel("Chaos Box episodes (1 = sim pre-training only)")
        ax.set_ylabel("mean abs error on real task episodes (mrad)")
        ax.set_title(title)
        ax.legend()
    fig.suptitle(f"dynamics models on the '{args.reality}' reality")
    fig.tight_layout()
    fig.savefig(args.out / "data_efficiency.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main(tyro.cli(Args))
