"""Is it the Chaos Box data that holds the residual back? A store of the base's own task episodes.

DexNDM fits its dynamics model on Chaos Box episodes: simulated action sequences replayed open
loop under random loads, with no object to put back. Where the residual then gives back less of a
wrist's gap than a hand moving as the sim's would (docs/results.md 2b and 4f: soft, base up, 1.88
rad against the reference's 3.41), the model may not know the hand in the regime the task runs in
(fingers pressing an object the wrist hangs below them). This script records that regime: the base
policy turning objects on the reality at one wrist, closed loop, written as an episode store in
the Chaos Box layout (``real_episode_schema``, the same fields and units as ``dexndm collect``).
``dexndm demo --real-data STORE`` then fits the dynamics and drive models on it instead of on a
Chaos Box; the rest of the loop is unchanged.

Measured in docs/results.md section 4i. A diagnostic, not part of the method: on a physical
hand each of these episodes ends with the object on the floor and someone putting it back, which
is what the Chaos Box avoids.

The objects are the training-split shapes (the demo evaluates on the test split) and the grasps
are drawn with ``--seed`` + 1000, so no evaluation episode is in the store. Each episode ends
when the object falls, so it is stored cut into ``--segment``-step pieces: the dynamics trainers
stack a store's episodes at one length (``load_episode_arrays`` cuts them all to the shortest).

    .venv/bin/python benchmarks/task_data_store.py --reality benchmarks/profiles/soft.toml \
        --wrist base_up --base checkpoints/generalist_wrists/generalist.pt --episodes 64 \
        --out out/task_store
    .venv/bin/dexndm demo --real-data out/task_store ...   # the loop on it

A rerun with the same ``--out`` keeps the episodes already stored and records the rest.

``--observations`` also stores ``proprio_obs``, the observation the base chose each step's
target from, so that ``dexndm train residual --sim-data STORE --current-against sim-model``
(or ``dexndm demo --residual-data STORE``) trains the residual on the states the hand itself
visits under the base, rather than on the sim's (docs/results.md 4j). With a base + residual
policy (``--base .../policy.onnx``) it stores ``base_targets`` too, the base's own targets before
the correction, and ``proprio_obs`` is the observation that base read: a residual trained on such
a store learns on the states the corrected hand visits (an on-policy round, docs/results.md 4n).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import tyro

from dexndm.data.plan import PlanMismatchError, check_store_plan
from dexndm.data.schema import Schema, real_episode_schema
from dexndm.data.store import EpisodeStore
from dexndm.eval.cells import make_cells
from dexndm.eval.policies import load_policy
from dexndm.eval.reality_eval import run_reality_episode
from dexndm.hand.constants import NUM_JOINTS
from dexndm.objects import resolve_object
from dexndm.reality.profile import load_profile
from dexndm.reality.simulated import SimulatedReality
from dexndm.sim.grasp import GraspConfig, cached_grasps
from dexndm.sim.observations import proprio_dim
from dexndm.sim.wrists_axes import parse_axis, parse_wrist

GRASP_SEED_OFFSET = 1000
"""Grasp draws and hand seeds of the store are the run seed plus this: apart from any evaluation's."""


PLAN_FIELDS = (
    "reality", "base", "wrist", "axis", "objects", "episode_steps", "segment", "grasp_candidates", "seed",
    "observations",
)  # fmt: skip


@dataclass
class Args:
    reality: str = "default"
    """Reality profile (a shipped name or a TOML file)."""
    base: str = "checkpoints/generalist/generalist.pt"
    wrist: str = "palm_up"
    axis: str = "+z"
    objects: tuple[str, ...] = ("normal_cylinder",)
    """Categories; their training-split shapes are used."""
    episodes: int = 64
    episode_steps: int = 400
    segment: int = 40
    """Steps per stored piece (>= the model's window + its 10-step check); a shorter remainder is dropped."""
    grasp_candidates: int = 256
    """Grasp candidates per shape and wrist (the demo's default, so its grasp cache is shared)."""
    grasp_cache_dir: Path | None = None
    seed: int = 0
    """The pipeline seed of the loop this store feeds (grasp cache); draws use seed + 1000."""
    observations: bool = False
    """Also store ``proprio_obs``: the base's observation at each step (for residual training)."""
    first_episode: int = 0
    """Index of the first episode: a second store from ``--first-episode 1000`` shares none with the first."""
    score: tuple[Path, ...] = ()
    """Dynamics checkpoints to score on every piece of the store after recording: open-loop error
    1 and 10 steps ahead beside "nothing moves" (e.g. a Chaos Box model against a task-data one,
    on task episodes neither was fitted on)."""
    out: Path = Path("out/task_store")


def corrects_a_base(policy) -> bool:
    """Whether ``policy`` is a base + correction target chain (``dexndm.residual.deploy``), whose
    sent targets are not its base's."""
    return hasattr(policy, "base_targets") and hasattr(policy, "last_observation")


class _ObservationRecorder:
    """The policy, with every proprioceptive observation it acts on kept in order; for a base +
    correction chain, the observation its base read (its own targets in the history) and the
    base's targets, so that a residual can be trained on these states against that base."""

    def __init__(self, policy) -> None:
        self.policy, self.seen, self.base = policy, [], []

    def __getattr__(self, name: str):
        return getattr(self.policy, name)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        actions = self.policy.act(obs)
        if corrects_a_base(self.policy):
            self.seen.append(np.array(self.policy.last_observation[0], np.float32))
            self.base.append(np.array(self.policy.base_targets[0], np.float32))
        else:
            self.seen.append(np.array(obs["proprio"][0], np.float32))
        return actions


def record_episode(
    policy,
    reality: str,
    cell,
    grasps,
    grasp_index: int,
    hand_seed: int,
    episode_steps: int = 400,
    observations: bool = False,
) -> tuple[dict[str, np.ndarray], dict]:
    """The base on the reality from ``grasps[grasp_index]``, until the object falls or
    ``episode_steps``: arrays in the ``real_episode_schema`` layout (``commanded_targets`` = the
    targets sent; with ``observations``, ``proprio_obs``: step t's observation, from which the
    base chose target t), and ``{fell, rot, physics_diverged}``.
    ``benchmarks/ndm_data_efficiency.py`` records its held-out task episodes with it too."""
    obj, wrist = resolve_object(cell.object), parse_wrist(cell.wrist)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("q", "qd", "i", "a", "t")}
    recorder = _ObservationRecorder(policy) if observations else None

    def record(hand: SimulatedReality) -> None:
        # called after the reset and after each step: the state read at step t, and the target in
        # force during step t - 1 (the one that produced it); realigned below as the collector
        # stores them (state read at t, then the target sent at t)
        s = hand.read_state()
        rows["q"].append(s.joint_pos.copy())
        rows["qd"].append(s.joint_vel.copy())
        rows["i"].append(s.motor_current * 1e3)
        rows["t"].append(np.float64(s.timestamp))
        rows["a"].append(hand.safety.last_targets.copy())

    with SimulatedReality(reality, wrist=wrist, obj=obj, seed=hand_seed) as hand:
        metrics, fell = run_reality_episode(
            recorder or policy, hand, grasps, grasp_index, parse_axis(cell.axis), cell=cell,
            episode_steps=episode_steps, on_step=record,
        )  # fmt: skip
    t = np.array(rows["t"][:-1])
    sent = np.array(rows["a"][1:], np.float32)
    arrays = {
        "joint_pos": np.array(rows["q"][:-1], np.float32),
        "joint_vel": np.array(rows["qd"][:-1], np.float32),
        "motor_current": np.array(rows["i"][:-1], np.float32),
        "joint_targets": sent,
        "commanded_targets": sent,  # the policy's targets go to the hand as they are
        "time": t - t[0] if len(t) else t,
    }
    if recorder is not None:
        # one observation per step taken; the state after the last step has none
        arrays["proprio_obs"] = np.array(recorder.seen[: len(sent)], np.float32).reshape(len(sent), -1)
        if recorder.base:
            arrays["base_targets"] = np.array(recorder.base[: len(sent)], np.float32)
    stats = {"fell": bool(fell), "rot": float(metrics["rot"])}
    stats["physics_diverged"] = bool(metrics["physics_diverged"])
    return arrays, stats


def main(args: Args) -> None:
    load_profile(args.reality)  # a malformed profile fails here, before any episode
    policy = load_policy(args.base)
    cells = make_cells(args.objects, (args.wrist,), (args.axis,), split="train")
    # what shapes the episodes: a store resumed with other values would mix two hands or tasks
    # (more --episodes, another --first-episode range and --score are fine)
    plan = {"mode": "task", **{k: str(getattr(args, k)) for k in PLAN_FIELDS}}
    if not args.observations:
        del plan["observations"]  # stores recorded before the option existed resume as they were
    schema = real_episode_schema(commanded_targets=True)
    if args.observations:
        dim = proprio_dim(10)  # run_reality_episode's history, the generalist's T = 10
        fields = {"proprio_obs": ((dim,), "float32")}
        if corrects_a_base(policy):  # the residual trains against the base's targets, not the sent ones
            fields["base_targets"] = ((NUM_JOINTS,), "float32")
        schema = Schema({**schema, **fields})
    store = EpisodeStore.create(
        args.out,
        schema,
        command="benchmarks/task_data_store.py",
        config={"task_data_store": {k: str(v) for k, v in asdict(args).items()}},
        info={"source": "real", "hand": "sim", "policy": args.base, "plan": plan},
        exist_ok=True,
    )
    try:
        check_store_plan(
            store, plan, recorder="benchmarks/task_data_store.py",
            resume_advice="resume it with the same settings (more --episodes or --first-episode are fine)",
        )  # fmt: skip
    except PlanMismatchError as e:
        raise SystemExit(str(e)) from None
    grasp_cfg = GraspConfig(candidates=args.grasp_candidates)
    grasp_sets = {  # one per shape, read once rather than per episode
        cell.object: cached_grasps(
            resolve_object(cell.object), parse_wrist(cell.wrist), grasp_cfg, cache_dir=args.grasp_cache_dir,
            seed=args.seed,
        )
        for cell in cells
    }  # fmt: skip
    start, stored, short = time.perf_counter(), 0, 0
    for e in range(args.first_episode, args.first_episode + args.episodes):
        key = f"task/{args.wrist}/{e:06d}"
        if store.has(f"{key}/000"):  # an episode's pieces are appended together, first to last
            continue
        cell = cells[e % len(cells)]
        grasps = grasp_sets[cell.object]
        # the grasp draw depends on (seed, episode) alone, so a rerun or another range draws alike
        draw = int(np.random.default_rng([args.seed + GRASP_SEED_OFFSET, e]).integers(1 << 30))
        arrays, stats = record_episode(
            policy, args.reality, cell, grasps, draw % len(grasps), args.seed + GRASP_SEED_OFFSET + e,
            args.episode_steps, args.observations,
        )  # fmt: skip
        steps = len(arrays["joint_pos"])
        if stats["physics_diverged"] or steps < args.segment:
            short += 1
            print(f"episode {e}: {steps} steps, diverged={stats['physics_diverged']}: not stored", flush=True)
            continue
        meta = {"episode": e, "wrist": args.wrist, "object": cell.object, "mode": "task", **stats}
        for k, s in enumerate(range(0, steps - args.segment + 1, args.segment)):
            piece = {f: v[s : s + args.segment] for f, v in arrays.items()}
            piece["time"] = piece["time"] - piece["time"][0]
            store.append(piece, {**meta, "key": f"{key}/{k:03d}", "first_step": s})
            stored += 1
        print(f"episode {e}: {cell.object}, {steps} steps, rot {stats['rot']:.2f}", flush=True)
    wall = time.perf_counter() - start
    print(
        f"{args.out}: {stored} pieces of {args.segment} steps stored this run ({wall:.0f} s), {short} "
        f"episodes too short or diverged, {len(store)} pieces in the store"
    )
    for path in args.score:
        score_model(path, args.out)


def score_model(path: Path, store: Path, horizon: int = 10) -> None:
    """Print ``path``'s open-loop error on every piece of ``store`` beside "nothing moves"."""
    from dexndm.dynamics.checkpoint import load_dynamics
    from dexndm.dynamics.datasets import load_episode_arrays
    from dexndm.dynamics.metrics import open_loop_error
    from dexndm.dynamics.windows import EpisodeWindows

    model = load_dynamics(path)
    arrays = load_episode_arrays(store)
    windows = EpisodeWindows.from_arrays(arrays["joint_pos"], arrays["joint_targets"], model.config.window)
    err = open_loop_error(model, windows, horizon)
    hold_1, hold_k = 1e3 * err.hold_one_step, 1e3 * err.hold_final
    print(
        f"{path} on {store} ({len(windows)} windows): 1-step {1e3 * err.one_step:.2f} mrad (hold "
        f"{hold_1:.2f}), {horizon}-step {1e3 * err.final:.2f} (hold {hold_k:.2f})"
    )


if __name__ == "__main__":
    main(tyro.cli(Args))
