"""Task episodes on SimulatedReality: a policy turning objects closed loop, stored for training.

The Chaos Box (``dexndm.collect.collector``) replays action sequences open loop, with no object
to put back, which is what makes it unattended. A task episode is the other kind of real data: the
policy itself turning an object until it falls or the episode ends. On a physical hand each one
ends with someone putting the object back; on SimulatedReality the reset is free. They serve

- an on-policy residual round (``dexndm demo --on-policy-rounds``, docs/results.md 4n): the
  episodes of base + residual, recorded with the observation its base read (``proprio_obs``) and
  the base's own targets (``base_targets``), so that the next residual trains on the states the
  corrected hand visits, against the base it corrects;
- the diagnostics of ``benchmarks/task_data_store.py`` (a dynamics model fitted on the task's
  own episodes, docs/results.md 4i) and ``benchmarks/objective_truth.py``.

Episodes are written in the Chaos Box layout (``real_episode_schema``: the same fields and units
as ``dexndm collect``). Each ends when the object falls, so it is stored cut into ``segment``-step
pieces: the dynamics and residual trainers stack a store's episodes at one length (cutting them
all to the shortest). The objects are the training-split shapes (evaluations use the test split)
and the grasps are drawn from ``seed + GRASP_SEED_OFFSET`` and the episode index, so no episode is
an evaluation episode and a rerun (or another range of indices) draws alike. A rerun keeps the
episodes already stored and records the rest.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dexndm.hand.constants import NUM_JOINTS

GRASP_SEED_OFFSET = 1000
"""Grasp draws and hand seeds of task episodes are the run seed plus this: apart from any evaluation's."""

OBSERVATION_HISTORY = 10
"""Steps of history in the stored observations: ``run_reality_episode``'s, the generalist's T."""


@dataclass(frozen=True)
class TaskRecording:
    """What a task-episode store holds: which policy, on which reality, in which cells."""

    reality: str
    """Reality profile (a shipped name or a TOML file)."""
    policy: str
    """The policy that acts: a base checkpoint, or a deployed base + residual (``policy.onnx``)."""
    objects: tuple[str, ...] = ("normal_cylinder",)
    """Objects (names, categories, meshes); categories contribute their training-split shapes."""
    wrists: tuple[str, ...] = ("palm_up",)
    axes: tuple[str, ...] = ("+z",)
    episodes: int = 64
    """Episodes recorded, spread over the (object, wrist, axis) cells in turn."""
    episode_steps: int = 400
    segment: int = 40
    """Steps per stored piece (>= the model's window + its K-step loss); a shorter remainder is dropped."""
    grasp_candidates: int = 256
    """Grasp candidates per shape and wrist (the demo's default, so its grasp cache is shared)."""
    grasp_cache_dir: str | None = None
    seed: int = 0
    """The pipeline seed of the loop the store feeds (grasp cache); draws use seed + 1000."""
    observations: bool = False
    """Also store ``proprio_obs`` (and, under a base + residual, ``base_targets``), for residual training."""
    first_episode: int = 0
    """Index of the first episode: a second store from another index shares no grasp draw with the first."""

    def plan(self) -> dict[str, str]:
        """The settings that shape the episodes: a store resumed with other values would mix two
        hands or tasks (more episodes or another index range are fine)."""
        shaping = ("reality", "policy", "objects", "wrists", "axes", "episode_steps", "segment",
                   "grasp_candidates", "seed", "observations")  # fmt: skip
        return {"mode": "task", **{k: str(getattr(self, k)) for k in shaping}}


@dataclass(frozen=True)
class TaskStoreReport:
    stored_pieces: int
    """Pieces written by this call (0 when a rerun found every episode stored)."""
    skipped_episodes: int
    """Episodes too short for one piece, or whose physics diverged: not stored."""
    pieces: int
    """Pieces in the store after this call."""
    mean_rot: float
    """Mean rotation (rad) of the episodes this call stored (nan if none)."""
    wall_s: float


def corrects_a_base(policy: Any) -> bool:
    """Whether ``policy`` is a base + correction target chain (``dexndm.residual.deploy``), whose
    sent targets are not its base's."""
    return hasattr(policy, "base_targets") and hasattr(policy, "last_observation")


class _ObservationRecorder:
    """The policy, with every proprioceptive observation it acts on kept in order; for a base +
    correction chain, the observation its base read (its own targets in the history) and the
    base's targets, so that a residual can be trained on these states against that base."""

    def __init__(self, policy: Any) -> None:
        self.policy, self.seen, self.base = policy, [], []

    def __getattr__(self, name: str) -> Any:
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
    policy: Any,
    reality: Any,
    cell: Any,
    grasps: Any,
    grasp_index: int,
    hand_seed: int,
    episode_steps: int = 400,
    observations: bool = False,
) -> tuple[dict[str, np.ndarray], dict]:
    """``policy`` on the reality from ``grasps[grasp_index]``, until the object falls or
    ``episode_steps``: arrays in the ``real_episode_schema`` layout (``commanded_targets`` = the
    targets sent; with ``observations``, ``proprio_obs``: step t's observation, from which the
    policy chose target t, and under a base + residual ``base_targets``), and ``{fell, rot,
    physics_diverged}``."""
    from dexndm.eval.reality_eval import run_reality_episode
    from dexndm.objects import resolve_object
    from dexndm.reality.simulated import SimulatedReality
    from dexndm.sim.wrists_axes import parse_axis, parse_wrist

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


def episode_draw(seed: int, episode: int) -> int:
    """The grasp draw of task episode ``episode``: a function of (seed, episode) alone."""
    return int(np.random.default_rng([seed + GRASP_SEED_OFFSET, episode]).integers(1 << 30))


def record_task_store(
    rec: TaskRecording,
    out: Path | str,
    *,
    command: str = "dexndm.collect.task",
    progress: bool = True,
) -> TaskStoreReport:
    """Record ``rec.episodes`` task episodes into the store at ``out`` (created, or resumed).

    Raises:
        PlanMismatchError: ``out`` holds episodes recorded with other settings (``rec.plan()``).
        ValueError: a malformed profile, an unknown object or wrist, or a segment too short.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from dexndm.data.plan import check_store_plan
    from dexndm.data.schema import Schema, real_episode_schema
    from dexndm.data.store import EpisodeStore
    from dexndm.eval.cells import make_cells
    from dexndm.eval.policies import load_policy
    from dexndm.objects import resolve_object
    from dexndm.reality.profile import load_profile
    from dexndm.sim.grasp import GraspConfig, cached_grasps
    from dexndm.sim.observations import proprio_dim
    from dexndm.sim.wrists_axes import parse_wrist

    if rec.segment < 2:
        raise ValueError(f"segment must be at least 2 steps, got {rec.segment}")
    load_profile(rec.reality)  # a malformed profile fails here, before any episode
    cells = make_cells(rec.objects, rec.wrists, rec.axes, split="train")
    policy = load_policy(rec.policy)
    plan = rec.plan()
    if not rec.observations:
        del plan["observations"]  # stores recorded before the option existed resume as they were
    schema = real_episode_schema(commanded_targets=True)
    if rec.observations:
        fields = {"proprio_obs": ((proprio_dim(OBSERVATION_HISTORY),), "float32")}
        if corrects_a_base(policy):  # the residual trains against the base's targets, not the sent ones
            fields["base_targets"] = ((NUM_JOINTS,), "float32")
        schema = Schema({**schema, **fields})
    out = Path(out)
    store = EpisodeStore.create(
        out, schema, command=command, config={"task": {k: str(v) for k, v in asdict(rec).items()}},
        info={"source": "real", "hand": "sim", "policy": rec.policy, "plan": plan}, exist_ok=True,
    )  # fmt: skip
    check_store_plan(
        store, plan, recorder=command,
        resume_advice="resume it with the same settings (more episodes or another first episode are fine)",
    )  # fmt: skip
    grasp_cfg = GraspConfig(candidates=rec.grasp_candidates)
    cache = None if rec.grasp_cache_dir is None else Path(rec.grasp_cache_dir)
    grasp_sets = {  # one per shape and wrist, read once rather than per episode
        (cell.object, cell.wrist): cached_grasps(
            resolve_object(cell.object), parse_wrist(cell.wrist), grasp_cfg, cache_dir=cache, seed=rec.seed
        )
        for cell in cells
    }
    indices = range(rec.first_episode, rec.first_episode + rec.episodes)
    keys = {e: f"task/{cells[e % len(cells)].wrist}/{e:06d}" for e in indices}
    todo = [e for e in indices if not store.has(f"{keys[e]}/000")]  # pieces are appended first to last
    start, stored, short, rots = time.perf_counter(), 0, 0, []
    columns = (TextColumn("[bold]task episodes"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("record", total=len(indices), completed=len(indices) - len(todo))
        for e in todo:
            cell = cells[e % len(cells)]
            grasps = grasp_sets[(cell.object, cell.wrist)]
            arrays, stats = record_episode(
                policy, rec.reality, cell, grasps, episode_draw(rec.seed, e) % len(grasps),
                rec.seed + GRASP_SEED_OFFSET + e, rec.episode_steps, rec.observations,
            )  # fmt: skip
            bar.advance(task)
            steps = len(arrays["joint_pos"])
            if stats["physics_diverged"] or steps < rec.segment:
                short += 1
                if not progress:
                    print(f"episode {e}: {steps} steps, diverged={stats['physics_diverged']}: not stored")
                continue
            rots.append(stats["rot"])
            meta = {"episode": e, "wrist": cell.wrist, "object": cell.object, "axis": cell.axis}
            meta["mode"] = "task"
            for k, s in enumerate(range(0, steps - rec.segment + 1, rec.segment)):
                piece = {f: v[s : s + rec.segment] for f, v in arrays.items()}
                piece["time"] = piece["time"] - piece["time"][0]
                store.append(piece, {**meta, **stats, "key": f"{keys[e]}/{k:03d}", "first_step": s})
                stored += 1
            if not progress:
                print(f"episode {e}: {cell.object}, {steps} steps, rot {stats['rot']:.2f}")
    return TaskStoreReport(
        stored_pieces=stored, skipped_episodes=short, pieces=len(store),
        mean_rot=float(np.mean(rots)) if rots else float("nan"), wall_s=time.perf_counter() - start,
    )  # fmt: skip
