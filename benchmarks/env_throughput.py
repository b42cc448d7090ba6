"""Control-step throughput of the batched rotation env beside the raw physics rate.

For each N this builds ``RotationEnv`` (the 6 cm cube, palm up, +z, the training domain
randomization) and times six paths, interleaved round by round (their order rotated) so that
load from other processes on a shared machine hits them alike; rates are N x control steps per
wall second, and physics substeps/s are that x ``substeps`` (6); ratios are medians over rounds:

* ``env``: ``env.step(actions)`` with small random actions (uniform in +-``--action``: a
  HoldPolicy-like jitter), the env resetting dropped cubes as it does in training.
* ``raw_held`` (**the raw rate**): ``mujoco.rollout.rollout`` of the same per-simulation models
  (``Batch.get_model``: the env's compiled model with its randomized masses, frictions, gains
  and action delays), from the env's held-cube states (``mj_getState(mjSTATE_FULLPHYSICS)`` of
  ``Batch.get_data`` right after reset, the control history included), controls held at the grasp
  targets (and the wrist mocap pose), on the same number of threads with ``persistent_pool=True``:
  physics with no Python in the loop, one call per ``--segment`` control steps.
* ``batch_held``: ``mujoco.batch.Batch.step(nstep=substeps, stage=mjSTAGE_VEL)`` alone, one call
  per control step, on a persistent batch of the env's model and per-simulation parameters,
  from the same states and controls: the batch engine without the env's Python.
* ``raw_like``: as ``raw_held``, but with the env's controls: the same random actions the env got
  in that round, turned into targets as the env does (``+= clip(a) / 24``, clamped) and held over
  each control step's substeps, the models' actuator delays making each env's new targets reach
  the PD ``latency`` substeps late, as in the env. Fingers that move cost more physics than a
  still grasp, so ``env / raw_like`` is the env's overhead on the physics it actually runs.
* ``batch_like``: ``Batch.step`` with those controls, one call per control step as
  ``RotationEnv._advance_physics`` makes it: the env's physics call without the env.
* ``batch_split`` (the env before 2026-11-24, for comparison): the same physics on a model with no
  control history, the latency made by splitting each control step at every distinct latency (up
  to 4 ``Batch.step`` calls). Each run checks that it matches ``batch_like`` bit for bit.

The env's own time is split into its physics calls (``_advance_physics``, timed by wrapping it
on the instance) and the Python around them.

The non-env paths restart from the held snapshot every ``--segment`` control steps (restarts are
not timed), as the env's resets do. Also: the physics cost of one substep of one simulation
(``mujoco.rollout`` on the calling thread only) with the cube held and with the env's controls,
and the mean number of contacts per simulation.

    .venv/bin/python benchmarks/env_throughput.py
    .venv/bin/python benchmarks/env_throughput.py --n 1 16 64 256 --seconds 5 --rounds 8  # RESULTS.md
    .venv/bin/python benchmarks/env_throughput.py --n 64 256 --action 0   # HoldPolicy: zero actions
    .venv/bin/python benchmarks/env_throughput.py --n 64 --profile 64
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import os
import platform
import pstats
import time
from dataclasses import dataclass, field

import mujoco
import numpy as np
from mujoco import batch as mjbatch
from mujoco import rollout as mjrollout

from dexndm.hand import constants as C
from dexndm.sim.config import EnvConfig, RandomizationConfig
from dexndm.sim.env import DELAY_FIELD, RotationEnv
from dexndm.sim.grasp import default_cache_dir
from dexndm.sim.scene import WRIST_POS, build_scene_spec

FULL = mujoco.mjtState.mjSTATE_FULLPHYSICS.value
# rollout's per-step inputs: the controls, and the mocap wrist pose (not part of FULLPHYSICS)
CONTROL_SPEC = int(
    mujoco.mjtState.mjSTATE_CTRL | mujoco.mjtState.mjSTATE_MOCAP_POS | mujoco.mjtState.mjSTATE_MOCAP_QUAT
)
WARM = mujoco.mjtState.mjSTATE_WARMSTART.value
# MuJoCo's instability warnings (the simulation is reset when one is raised)
BAD = [
    int(mujoco.mjtWarning.mjWARN_BADQPOS),
    int(mujoco.mjtWarning.mjWARN_BADQVEL),
    int(mujoco.mjtWarning.mjWARN_BADQACC),
]


def expanded_fields(sim: mjbatch.Batch) -> list[str]:
    """The model fields that have per-simulation values in ``sim``: the env's randomized ones, the
    action delay, and the constants its resets recompute (``Batch.set_const``)."""
    return [name for name in mjbatch.MODEL_FIELDS if sim.expanded(name) is not None]


@dataclass
class Timer:
    """Steps and seconds accumulated over rounds, and the per-round rates."""

    steps: float = 0.0
    seconds: float = 0.0
    rounds: list[float] = field(default_factory=list)

    def add(self, steps: float, seconds: float) -> None:
        self.steps += steps
        self.seconds += seconds
        self.rounds.append(steps / seconds)

    @property
    def rate(self) -> float:
        return self.steps / self.seconds if self.seconds else float("nan")


PATHS = ("env", "batch_held", "raw_held", "raw_like", "batch_like", "batch_split")
"""env: env.step. batch_held: Batch.step, one call per control step, targets held. raw_held: rollout,
targets held. raw_like: rollout with the env's controls (the same random actions; the models' own
per-env delays). batch_like: Batch.step with those controls, one call per control step, as the env
calls it. batch_split: the same physics on a model without control history, split at the latency
boundaries (the env's former way)."""


@dataclass
class Row:
    n: int
    nthread: int
    t: dict[str, Timer]
    us_held: float
    us_like: float
    contacts: dict[str, float]  # mean contacts per sim: env, held (batch_held), like (batch_like)
    held_raw: float
    held_like: float
    env_resets: int
    env_unstable: int
    k: int
    seg: int
    split_diff: tuple[float, int]  # max |qpos| of batch_split - batch_like after a segment, sims left out
    env_python_ms: float  # ms per env.step outside its physics calls (_advance_physics)

    def rate(self, path: str) -> float:
        return self.t[path].rate

    def ratio(self, a: str, b: str) -> float:
        return self.t[a].rate / self.t[b].rate

    def round_ratios(self, a: str, b: str) -> list[float]:
        """a / b in each round: the two ran back to back, under about the same outside load."""
        return [x / y for x, y in zip(self.t[a].rounds, self.t[b].rounds, strict=True)]

    def median_ratio(self, a: str, b: str) -> float:
        return float(np.median(self.round_ratios(a, b)))


def make_env(n: int, args: argparse.Namespace) -> RotationEnv:
    cfg = EnvConfig(
        num_envs=n,
        objects=("cube",),
        wrists=("palm_up",),
        axes=("+z",),
        randomization=RandomizationConfig(),  # the training setting: domain randomization on
        nthread=args.threads,
        seed=args.seed,
        grasp_cache_dir=args.grasp_cache_dir,
    )
    return RotationEnv(cfg)


def held_snapshot(env: RotationEnv):
    """Per-simulation models, FULLPHYSICS states, warmstarts, rollout controls (ctrl + mocap) and
    batch state rows of the env's (only) group now."""
    grp = env.groups[0]
    sim, m = grp.sim, grp.model
    models = [sim.get_model(i) for i in range(sim.nsim)]
    states = np.zeros((sim.nsim, mujoco.mj_stateSize(m, FULL)))
    warm = np.zeros((sim.nsim, m.nv))
    control = np.zeros((sim.nsim, mujoco.mj_stateSize(m, CONTROL_SPEC)))
    for i in range(sim.nsim):
        d = sim.get_data(i)
        mujoco.mj_getState(models[i], d, states[i], FULL)
        mujoco.mj_getState(models[i], d, warm[i], WARM)
        mujoco.mj_getState(models[i], d, control[i], CONTROL_SPEC)
    return models, states, warm, control, sim.state.copy()


def make_batch(env: RotationEnv, rows: np.ndarray, nthread: int) -> mjbatch.Batch:
    """A persistent batch of the env's model and per-simulation parameters (no env around it)."""
    grp = env.groups[0]
    b = mjbatch.Batch(grp.model, grp.sim.nsim, nthread=nthread, persistent=True)
    for name in expanded_fields(grp.sim):
        b.expand(name)[:] = grp.sim.expanded(name)
    b.state[:] = rows
    b.forward(stage=mujoco.mjtStage.mjSTAGE_VEL)
    return b


def object_held(obj_pos: np.ndarray, fall: float) -> np.ndarray:
    return np.linalg.norm(obj_pos - WRIST_POS, axis=-1) < fall


def make_split_batch(env: RotationEnv, ref: mjbatch.Batch):
    """The env's physics as the env made it before 2026-11-24: the scene without control history,
    the latency made by splitting ``Batch.step`` calls (batch_split_steps). ``ref`` is a batch of
    the env's model (make_batch). Returns the batch and a function that copies ``ref``'s state in."""
    grp = env.groups[0]
    model = build_scene_spec(grp.obj, env.cfg.physics).compile()
    b = mjbatch.Batch(model, ref.nsim, nthread=ref.nthread, persistent=True)
    for name in expanded_fields(ref):
        if name != DELAY_FIELD:  # this model has no control history to delay
            b.expand(name)[:] = ref.expanded(name)
    fields = ("time", "qpos", "qvel", "qacc_warmstart", "ctrl", "mocap_pos", "mocap_quat", "xfrc_applied")

    def restart() -> None:
        for f in fields:
            b.bind(f)[:] = ref.bind(f)
        b.forward(stage=mujoco.mjtStage.mjSTAGE_VEL)

    return b, restart


def like_controls(ctrl0: np.ndarray, acts: list[np.ndarray], sub: int):
    """The env's controls for rollout: per control step the targets ``+= clip(a) / 24`` (clamped),
    held over its ``sub`` substeps (the models' actuator delays apply each env's latency); returns
    (n, k*sub, ncontrol) and the per-step targets (k+1, n, 16)."""
    n, k = len(ctrl0), len(acts)
    out = np.empty((n, k * sub, ctrl0.shape[1]))
    out[:] = ctrl0[:, None, :]
    targets = np.empty((k + 1, n, 16))
    targets[0] = ctrl0[:, :16]
    for c, a in enumerate(acts):
        targets[c + 1] = C.clamp_to_limits(targets[c] + np.clip(a, -1.0, 1.0) * C.ACTION_SCALE)
        out[:, c * sub : (c + 1) * sub, :16] = targets[c + 1][:, None]
    return out, targets


def batch_split_steps(batch: mjbatch.Batch, targets: np.ndarray, lat: np.ndarray, sub: int) -> None:
    """The env's former _advance_physics call pattern: new targets after ``lat`` substeps, made by
    splitting the control step at every distinct latency."""
    ctrl = batch.bind("ctrl")
    lat = np.minimum(lat, sub)
    bounds = np.unique(np.concatenate([lat, [sub]]))
    for c in range(1, len(targets)):
        done = 0
        for boundary in bounds:
            ctrl[:] = np.where((lat <= done)[:, None], targets[c], targets[c - 1])
            if boundary > done:
                last = boundary == sub
                stage = mujoco.mjtStage.mjSTAGE_VEL if last else mujoco.mjtStage.mjSTAGE_NONE
                batch.step(nstep=int(boundary - done), stage=stage)
                done = int(boundary)


def single_thread_us(models, states, warm, control, sub: int, m1: int, seconds: float) -> float:
    """Best µs per substep per simulation over repeats (>= 3, ~``seconds`` in all), rollout on the
    calling thread only."""
    nstep = max(sub, min(control.shape[1], int(round(seconds / (m1 * 60e-6)))))
    ctl = np.ascontiguousarray(control[:m1, :nstep])
    d = mujoco.MjData(models[0])
    kw = dict(control_spec=CONTROL_SPEC, initial_warmstart=warm[:m1])
    mjrollout.rollout(models[:m1], d, states[:m1], ctl[:, :sub], nstep=sub, **kw)  # warm
    best, spent, reps = np.inf, 0.0, 0
    while reps < 3 or spent < seconds:
        t = time.perf_counter()
        mjrollout.rollout(models[:m1], d, states[:m1], ctl, nstep=nstep, **kw)
        dt = time.perf_counter() - t
        best, spent, reps = min(best, dt), spent + dt, reps + 1
    return best / (m1 * nstep) * 1e6


def measure(n: int, args: argparse.Namespace, rng: np.random.Generator) -> Row:
    env = make_env(n, args)
    grp = env.groups[0]
    lay = grp.layout
    sub = env.cfg.physics.substeps
    nthread = grp.sim.nthread  # what nthread=0 resolved to

    # held-cube snapshot: the grasp states just after reset, controls at the grasp targets
    models, states, warm, ctrl0, rows = held_snapshot(env)
    lat = env.latency[grp.env_ids].copy()
    batch = make_batch(env, rows, nthread)
    datas = [mujoco.MjData(grp.model) for _ in range(max(nthread, 1))]
    data_arg = datas if nthread > 1 else datas[0]

    def actions() -> np.ndarray:
        return rng.uniform(-args.action, args.action, size=(n, 16))

    # warm up, and size the rounds from a quick estimate of the env's step time
    env_ncon = grp.sim.bind("ncon")
    for _ in range(args.warmup):
        env.step(actions())
    t = time.perf_counter()
    for _ in range(3):
        env.step(actions())
    env_dt = (time.perf_counter() - t) / 3
    k = max(args.min_steps, int(np.ceil(args.seconds / args.rounds / env_dt)))  # ctrl steps per round
    # The non-env paths run in segments of `seg` control steps, each from the held-grasp snapshot,
    # as the env's resets do: a long open-loop random walk would drop most cubes.
    seg = min(k, args.segment)
    k = -(-k // seg) * seg
    nseg = k // seg

    held_control = np.ascontiguousarray(np.broadcast_to(ctrl0[:, None, :], (n, seg * sub, ctrl0.shape[1])))
    out_state = np.empty((n, seg * sub, states.shape[1]))
    out_sens = np.empty((n, seg * sub, grp.model.nsensordata))
    obj = slice(1 + lay.object_qpos, 1 + lay.object_qpos + 3)  # FULLPHYSICS: time, qpos, ...

    def rollout(control: np.ndarray) -> float:
        t = time.perf_counter()
        mjrollout.rollout(models, data_arg, states, control, control_spec=CONTROL_SPEC, nstep=seg * sub,
                          initial_warmstart=warm, state=out_state, sensordata=out_sens,
                          persistent_pool=True)  # fmt: skip
        return time.perf_counter() - t

    def restart_batch() -> None:
        batch.state[:] = rows
        batch.forward(stage=mujoco.mjtStage.mjSTAGE_VEL)

    split_batch, restart_split = make_split_batch(env, batch)

    def like_steps(targets: np.ndarray) -> None:
        """The env's physics call: new targets, one Batch.step per control step."""
        ctrl = batch.bind("ctrl")
        for c in range(1, len(targets)):
            ctrl[:] = targets[c]
            batch.step(nstep=sub, stage=mujoco.mjtStage.mjSTAGE_VEL)

    # the env's one call per step must run the former split calls' physics exactly
    _, check_targets = like_controls(ctrl0, [actions() for _ in range(seg)], sub)
    restart_batch()
    restart_split()
    batch_split_steps(split_batch, check_targets, lat, sub)
    like_steps(check_targets)
    # (a simulation that went unstable was reset by MuJoCo, differently in the two: left out)
    blew_up = (batch.warning[:, BAD, 1].sum(1) > 0) | (split_batch.warning[:, BAD, 1].sum(1) > 0)
    qdiff = np.abs(split_batch.bind("qpos") - batch.bind("qpos")).max(1)
    split_diff = (float(qdiff[~blew_up].max()) if (~blew_up).any() else 0.0, int(blew_up.sum()))

    # time the env's physics calls (its _advance_physics) inside env.step, without changing the env
    physics_s = [0.0]
    advance = env._advance_physics

    def timed_advance() -> None:
        t = time.perf_counter()
        advance()
        physics_s[0] += time.perf_counter() - t

    env._advance_physics = timed_advance  # type: ignore[method-assign]

    rollout(held_control)  # warm the pool
    timers = {p: Timer() for p in PATHS}
    resets0 = int(env.resets.sum())
    warn0 = int(grp.sim.warning[:, BAD, 1].sum())
    ncon = {p: [] for p in ("env", "held", "like")}
    held, held_like = [], []
    env_python_s = 0.0
    b_ncon = batch.bind("ncon")
    fall = env.cfg.fall_distance
    for r in range(args.rounds):
        acts = [actions() for _ in range(k)]
        segments = [like_controls(ctrl0, acts[j * seg : (j + 1) * seg], sub) for j in range(nseg)]
        order = list(PATHS[r % len(PATHS) :] + PATHS[: r % len(PATHS)])  # rotate the order per round
        for what in order:
            dt = 0.0
            if what == "env":
                physics_s[0] = 0.0
                t = time.perf_counter()
                for a in acts:
                    env.step(a)
                dt = time.perf_counter() - t
                env_python_s += dt - physics_s[0]
                ncon["env"].append(float(np.mean(env_ncon)))
            elif what == "batch_held":
                for _ in range(nseg):
                    restart_batch()
                    batch.bind("ctrl")[:] = ctrl0[:, :16]
                    t = time.perf_counter()
                    for _ in range(seg):
                        batch.step(nstep=sub, stage=mujoco.mjtStage.mjSTAGE_VEL)
                    dt += time.perf_counter() - t
                    ncon["held"].append(float(np.mean(b_ncon)))
            elif what == "batch_like":
                for _, targets in segments:
                    restart_batch()
                    t = time.perf_counter()
                    like_steps(targets)
                    dt += time.perf_counter() - t
                    ncon["like"].append(float(np.mean(b_ncon)))
            elif what == "batch_split":
                for _, targets in segments:
                    restart_batch()
                    restart_split()
                    t = time.perf_counter()
                    batch_split_steps(split_batch, targets, lat, sub)
                    dt += time.perf_counter() - t
            elif what == "raw_held":
                for _ in range(nseg):
                    dt += rollout(held_control)
                    held.append(float(object_held(out_state[:, -1, obj], fall).mean()))
            else:
                for control, _ in segments:
                    dt += rollout(control)
                    held_like.append(float(object_held(out_state[:, -1, obj], fall).mean()))
            timers[what].add(n * k, dt)
    env_resets = int(env.resets.sum()) - resets0
    env_unstable = int(grp.sim.warning[:, BAD, 1].sum()) - warn0

    m1 = min(n, args.single_sims)
    us_held = single_thread_us(models, states, warm, held_control, sub, m1, args.single_seconds)
    us_like = single_thread_us(models, states, warm, segments[0][0], sub, m1, args.single_seconds)
    env.close()
    return Row(n, nthread, timers, us_held, us_like, {p: float(np.mean(v)) for p, v in ncon.items()},
               float(np.mean(held)), float(np.mean(held_like)), env_resets, env_unstable, k, seg,
               split_diff, env_python_s / (k * args.rounds) * 1e3)  # fmt: skip


def profile_env(n: int, args: argparse.Namespace, rng: np.random.Generator, steps: int) -> str:
    env = make_env(n, args)
    for _ in range(args.warmup):
        env.step(rng.uniform(-args.action, args.action, size=(n, 16)))
    acts = [rng.uniform(-args.action, args.action, size=(n, 16)) for _ in range(steps)]
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    for a in acts:
        env.step(a)
    prof.disable()
    wall = time.perf_counter() - t
    s = io.StringIO()
    st = pstats.Stats(prof, stream=s).sort_stats("tottime")
    print(
        f"cProfile of env.step at N={n}: {steps} steps, {wall / steps * 1e3:.2f} ms/step (profiled)", file=s
    )
    st.print_stats(25)
    st.sort_stats("cumulative").print_stats(25)
    env.close()
    return s.getvalue()


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def table(rows: list[Row]) -> str:
    """The markdown table: control steps/s (N x control steps / wall s, all rounds) of each path,
    and ratios (the median over rounds of the ratio within a round)."""
    head = [
        "N", "threads", "env ctrl steps/s", "batch-only (held)", "rollout raw (held)",
        "**env/raw** (min-max of rounds)", "rollout raw, env's ctrl", "**env/raw env's ctrl**",
        "batch, env's call (1/step)", "batch, former split calls", "µs/substep held (env's ctrl)",
        "contacts held / env's ctrl / env",
    ]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        rr = r.round_ratios("env", "raw_held")
        c = r.contacts
        cells = [
            str(r.n), str(r.nthread), fmt_rate(r.rate("env")), fmt_rate(r.rate("batch_held")),
            fmt_rate(r.rate("raw_held")),
            f"**{r.median_ratio('env', 'raw_held'):.2f}** ({min(rr):.2f}-{max(rr):.2f})",
            fmt_rate(r.rate("raw_like")), f"**{r.median_ratio('env', 'raw_like'):.2f}**",
            fmt_rate(r.rate("batch_like")), fmt_rate(r.rate("batch_split")),
            f"{r.us_held:.0f} ({r.us_like:.0f})",
            f"{c['held']:.1f} / {c['like']:.1f} / {c['env']:.1f}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(row: Row, rounds: int, sub: int, seconds: float) -> str:
    """One N's figures, as a few log lines."""
    rates = "  ".join(f"{p} {fmt_rate(row.rate(p))}" for p in PATHS)
    per_round = ", ".join(f"{x:.2f}" for x in row.round_ratios("env", "raw_held"))
    return "\n".join(
        [
            f"N={row.n} threads={row.nthread}: {row.k} control steps (segments of {row.seg})"
            f" x {rounds} rounds per path [{seconds:.1f}s]",
            f"  ctrl steps/s: {rates}  (env: {fmt_rate(row.rate('env') * sub)} substeps/s;"
            f" {row.n / row.rate('env') * 1e3:.2f} ms/step, of which {row.env_python_ms:.2f} outside physics:"
            f" {row.env_python_ms * row.rate('env') / row.n / 1e3:.0%})",
            f"  median ratios of rounds: env/raw_held {row.median_ratio('env', 'raw_held'):.2f}"
            f" (rounds {per_round})  env/raw_like {row.median_ratio('env', 'raw_like'):.2f}"
            f"  env/batch_like {row.median_ratio('env', 'batch_like'):.2f}"
            f"  batch_like/raw_like {row.median_ratio('batch_like', 'raw_like'):.2f}"
            f"  raw_like/raw_held {row.median_ratio('raw_like', 'raw_held'):.2f}"
            f"  batch_held/raw_held {row.median_ratio('batch_held', 'raw_held'):.2f}"
            f"  batch_like/batch_split {row.median_ratio('batch_like', 'batch_split'):.2f}"
            f"  (max |qpos| split - like after {row.seg} steps: {row.split_diff[0]:.1e},"
            f" {row.split_diff[1]} unstable sims left out)",
            f"  µs/substep/sim, 1 thread: held {row.us_held:.1f}, env's ctrl {row.us_like:.1f};  contacts: "
            + ", ".join(f"{k} {v:.1f}" for k, v in row.contacts.items()),
            f"  cubes held at segment end: raw_held {row.held_raw:.0%}, raw_like {row.held_like:.0%};"
            f"  env resets {row.env_resets}, env instability warnings {row.env_unstable}",
        ]
    )


def machine() -> str:
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"nproc={os.cpu_count()}, CPU: {model}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[1, 16, 64, 256], help="numbers of envs")
    p.add_argument("--seconds", type=float, default=5.0, help="minimum wall time of each path per N (s)")
    p.add_argument("--rounds", type=int, default=8, help="interleaved rounds the time is split into")
    p.add_argument("--threads", type=int, default=0, help="physics threads (0: all cores), env and raw")
    p.add_argument("--warmup", type=int, default=5, help="env steps before timing")
    p.add_argument("--min-steps", type=int, default=5, help="least control steps per round and path")
    p.add_argument("--segment", type=int, default=20, help="control steps of a non-env path between restarts")
    p.add_argument("--action", type=float, default=0.2, help="random actions are uniform in +-this")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--single-sims", type=int, default=16, help="sims of the 1-thread µs/substep run")
    p.add_argument("--single-seconds", type=float, default=0.5, help="about how long that run takes (s)")
    p.add_argument("--grasp-cache-dir", default=str(default_cache_dir()))
    p.add_argument("--profile", type=int, default=0, help="also cProfile env.step at this N (0: no)")
    p.add_argument("--profile-steps", type=int, default=40)
    args = p.parse_args()

    rng = np.random.default_rng(args.seed)
    print(
        f"# {machine()}; MuJoCo {mujoco.__version__}; {datetime.datetime.now().isoformat(timespec='seconds')}"
    )
    rows = []
    sub = EnvConfig().physics.substeps
    for n in args.n:
        t = time.perf_counter()
        rows.append(measure(n, args, rng))
        print(report(rows[-1], args.rounds, sub, time.perf_counter() - t), flush=True)
    print()
    print(table(rows))
    if args.profile:
        print()
        print(profile_env(args.profile, args, rng, args.profile_steps))


if __name__ == "__main__":
    main()
