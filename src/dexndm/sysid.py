"""System identification baseline: fit the training sim's hand to the real hand's joint data.

The classical alternative to a learned dynamics model (issue 5's baselines): keep the simulator,
change its parameters. We fit the actuator and joint parameters of the training sim's hand
(``HandConfig``: PD stiffness and damping, torque limit, reflected inertia, dry friction) and the
action latency to episodes a real hand recorded (``dexndm collect``), then fine-tune the policy in
the identified sim (``dexndm train specialist --sysid FILE``, then ``dexndm train generalist``).

The fit is a multiple-shooting replay: from many windows of the real episodes, the sim hand is set
to the recorded joint positions and velocities, driven for ``horizon`` control steps by the
recorded targets, and compared with the recorded positions. The objective (mean absolute joint
error, rad) is minimised by CMA-ES (the ``cma`` package) over log-scales of the nominal values,
one mujoco.batch simulation per (candidate, window). Windows, not whole episodes: a 20 s
open-loop replay drifts on the loads the sim does not have (the Chaos Box balls), and the fit
would then chase the drift.

What this cannot see, by construction: anything that acts through the object (contact friction,
object mass). The hand-only sim has no object and no balls, so loads on the real fingers are
absorbed into the fitted actuator parameters; the report says how much error is left.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from mujoco import batch as mjbatch

from dexndm.data.atomic import atomic_write_text
from dexndm.hand import constants as C
from dexndm.hand.model import HandConfig
from dexndm.sim.scene import PhysicsConfig, add_action_delay, build_hand_spec

FORMAT = "dexndm-sysid-v1"

LINEAR_INTERP = 1
"""``mjsActuator.interp`` value of linear interpolation between control samples."""

FITTED: tuple[str, ...] = ("kp", "kd", "torque_limit", "armature", "frictionloss")
"""HandConfig fields the fit scales (joint damping is left nominal: with the PD's kd it acts on
joint velocity the same way, and the two cannot be told apart from positions)."""


class SysIdError(ValueError):
    """Data or a result file that the identification cannot use; the message says why."""


@dataclass(frozen=True)
class SysIdConfig:
    """How the training sim's hand is fitted to recorded joint trajectories."""

    horizon: int = 10
    """Control steps each window is replayed open loop (0.5 s at 20 Hz)."""
    windows: int = 96
    """Replay windows drawn from the episodes (the same ones for every candidate)."""
    population: int = 16
    """CMA-ES candidates per generation."""
    generations: int = 80
    """CMA-ES generations (``benchmarks/sysid_recovery.py``: on a hand simulated with known
    parameters, 80 x 16 recover every parameter within 0.2% and the latency; 25 leave 3.4 mrad
    of replay error and the armature 30% off)."""
    log2_range: float = 4.0
    """Each fitted parameter ranges over nominal x 2^[-range, range] (1/16x-16x by default: the
    LEAP hand's Dynamixel loop has ~1/25 of the training PD's damping, ``reality/profile.py``)."""
    sigma0: float = 0.6
    """Initial CMA-ES step size, in log2 units."""
    max_latency_substeps: int = 6
    """Latency is fitted in [0, this] physics substeps (1/120 s), as a real number; the training
    env takes it rounded."""
    seed: int = 0
    nthread: int = 0
    """Physics threads (0: all cores)."""

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.windows < 1 or self.population < 4 or self.generations < 1:
            raise SysIdError(
                "SysIdConfig needs horizon >= 1, windows >= 1, population >= 4 and generations >= 1, got "
                f"{self.horizon}, {self.windows}, {self.population}, {self.generations}"
            )
        if self.log2_range <= 0 or self.sigma0 <= 0 or self.max_latency_substeps < 0:
            raise SysIdError("SysIdConfig: log2_range and sigma0 must be > 0, max_latency_substeps >= 0")


@dataclass(frozen=True)
class JointData:
    """Recorded joint trajectories: ``(E, T, 16)`` positions, velocities and targets, rad and rad/s.

    ``joint_vel`` may come from the hand's own velocity readings or from finite differences.
    ``wrist_quat`` is the wrist orientation of each episode (gravity on the fingers).
    """

    joint_pos: np.ndarray
    joint_vel: np.ndarray
    joint_targets: np.ndarray
    wrist_quat: np.ndarray

    def __post_init__(self) -> None:
        q, v, a = self.joint_pos, self.joint_vel, self.joint_targets
        if q.ndim != 3 or q.shape[-1] != C.NUM_JOINTS or v.shape != q.shape or a.shape != q.shape:
            raise SysIdError(
                f"joint data must be (episodes, steps, {C.NUM_JOINTS}) arrays of one shape, got positions "
                f"{q.shape}, velocities {v.shape}, targets {a.shape}"
            )
        if self.wrist_quat.shape != (q.shape[0], 4):
            raise SysIdError(f"wrist_quat must be ({q.shape[0]}, 4), got {self.wrist_quat.shape}")
        for name, arr in (("joint_pos", q), ("joint_vel", v), ("joint_targets", a)):
            if not np.all(np.isfinite(arr)):
                raise SysIdError(f"joint data: {name} has NaN or infinite values")


def load_joint_data(root: Path | str, max_episodes: int | None = None, min_steps: int = 2) -> JointData:
    """The episodes of a ``dexndm collect`` store (or sim episodes) as :class:`JointData`.

    Episodes shorter than ``min_steps`` are left out; each kept episode's wrist orientation comes
    from its own record, so quaternions and trajectories stay paired.
    """
    from dexndm.data.store import EpisodeStore
    from dexndm.dynamics.datasets import load_episode_arrays

    root = Path(root)
    store = EpisodeStore(root, readonly=True)
    records = [store.record(i) for i in list(store.episode_indices())[:max_episodes]]
    records = [r for r in records if r.steps >= min_steps]
    fields = ("joint_pos", "joint_targets") + (("joint_vel",) if "joint_vel" in store.schema else ())
    arrays = load_episode_arrays(root, fields=fields, indices=[r.index for r in records], min_steps=min_steps)
    q = arrays["joint_pos"].astype(np.float64)
    if "joint_vel" in arrays:
        v = arrays["joint_vel"].astype(np.float64)
    else:
        v = np.gradient(q, C.CONTROL_DT, axis=1)
    quats = np.asarray([r.meta.get("wrist_quat", [1.0, 0.0, 0.0, 0.0]) for r in records], dtype=np.float64)
    return JointData(q, v, arrays["joint_targets"].astype(np.float64), quats)


@dataclass(frozen=True)
class IdentifiedHand:
    """The result: the hand and latency the training sim should use, and how well they fit."""

    hand: HandConfig
    latency_substeps: int
    """The fitted latency rounded to whole substeps, as the training env applies it."""
    latency_fitted_substeps: float
    error_nominal_mrad: float
    """Mean absolute joint error of the replay windows with the training sim as it is."""
    error_fitted_mrad: float
    error_hold_mrad: float
    """The same error for "the joints stay where they were at the window's start"."""
    scales: dict[str, float] = field(default_factory=dict)
    """Fitted value / nominal value per fitted HandConfig field."""
    windows: int = 0
    horizon: int = 0
    evaluations: int = 0
    wall_s: float = 0.0
    source: str = ""
    history: tuple[float, ...] = ()
    """Best error (mrad) after each generation."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["format"] = FORMAT
        return d

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @staticmethod
    def load(path: Path | str) -> IdentifiedHand:
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise SysIdError(f"cannot read the identified hand {path}: {e}") from e
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            found = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise SysIdError(
                f"{path} is not a dexndm system-identification result (format {found!r}, expected "
                f"{FORMAT!r}); make one with `dexndm sysid --data STORE --out {path}`"
            )
        try:
            hand = HandConfig.from_dict(d["hand"])
            d = {k: v for k, v in d.items() if k != "format"}
            d["hand"] = hand
            d["history"] = tuple(d.get("history", ()))
            return IdentifiedHand(**d)
        except (KeyError, TypeError) as e:
            raise SysIdError(f"{path}: malformed system-identification result ({e})") from e


class HandReplay:
    """Replays windows of joint data in many copies of the training sim's hand at once.

    One simulation per (candidate, window): candidate parameters are written into per-simulation
    copies of the actuator and joint fields, so a whole CMA-ES generation is one batched run.
    """

    def __init__(
        self,
        data: JointData,
        starts: np.ndarray,
        horizon: int,
        candidates: int,
        physics: PhysicsConfig = PhysicsConfig(),
        max_latency: int = 6,
        nthread: int = 0,
    ):
        self.data, self.starts, self.horizon = data, starts, horizon
        self.nominal = physics.hand
        self.substeps = physics.substeps
        spec = build_hand_spec(physics)
        self.max_latency = max_latency
        if max_latency > 0:
            # one more sample than the largest delay needs, and linear interpolation between
            # samples: a fractional delay blends two substeps' targets, so the error is continuous
            # in the latency and CMA-ES can search it (the training env then rounds it)
            add_action_delay(spec, max_latency + 1)
            for act in spec.actuators:
                act.interp = LINEAR_INTERP
        self.model = spec.compile()
        m = self.model
        self.qadr = np.array([m.jnt_qposadr[m.joint(n).id] for n in C.JOINT_NAMES])
        self.vadr = np.array([m.jnt_dofadr[m.joint(n).id] for n in C.JOINT_NAMES])
        self.act = np.array([m.actuator(n).id for n in C.JOINT_NAMES])
        self.n_windows = len(starts)
        self.n = candidates * self.n_windows
        self.sim = mjbatch.Batch(m, self.n, nthread=nthread, persistent=True)
        for name in ("actuator_gainprm", "actuator_biasprm", "actuator_forcerange", "dof_armature",
                     "dof_frictionloss") + (("actuator_delay",) if max_latency > 0 else ()):  # fmt: skip
            self.sim.expand(name)
        self.history_cols = None
        if max_latency > 0:
            from dexndm.sim.env import _control_history_columns

            self.history_cols = _control_history_columns(m)
        ep, t = starts[:, 0], starts[:, 1]
        self.q0 = data.joint_pos[ep, t]
        self.v0 = data.joint_vel[ep, t]
        self.a_prev = data.joint_targets[ep, t - 1]
        self.a_seq = np.stack([data.joint_targets[ep, t + k] for k in range(horizon)], axis=1)
        self.q_true = np.stack([data.joint_pos[ep, t + k + 1] for k in range(horizon)], axis=1)
        self.quat = data.wrist_quat[ep]

    def hand_params(self, scales: np.ndarray) -> list[HandConfig]:
        """HandConfigs for rows of log2 scales (one column per ``FITTED`` field)."""
        out = []
        for row in np.atleast_2d(scales):
            vals = {f: getattr(self.nominal, f) * float(2.0 ** row[i]) for i, f in enumerate(FITTED)}
            out.append(dataclasses.replace(self.nominal, **vals))
        return out

    def run(
        self, hands: list[HandConfig], latencies: np.ndarray, velocities: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Joint positions ``(candidates, windows, horizon, 16)`` of each candidate's replays
        (and the joint velocities, same shape, with ``velocities``). ``latencies`` are in
        physics substeps and may be fractional."""
        if len(hands) * self.n_windows != self.n:
            built = self.n // self.n_windows
            raise ValueError(f"HandReplay was built for {built} candidates, got {len(hands)}")
        sim, w = self.sim, self.n_windows
        kp = np.repeat([h.kp for h in hands], w)
        kd = np.repeat([h.kd for h in hands], w)
        lim = np.repeat([h.torque_limit for h in hands], w)
        gain, bias = sim.expand("actuator_gainprm"), sim.expand("actuator_biasprm")
        gain[:, self.act, 0] = kp[:, None]
        bias[:, self.act, 1] = -kp[:, None]
        bias[:, self.act, 2] = -kd[:, None]
        frc = sim.expand("actuator_forcerange")
        frc[:, self.act, 0], frc[:, self.act, 1] = -lim[:, None], lim[:, None]
        sim.expand("dof_armature")[:, self.vadr] = np.repeat([h.armature for h in hands], w)[:, None]
        sim.expand("dof_frictionloss")[:, self.vadr] = np.repeat([h.frictionloss for h in hands], w)[:, None]
        slots = np.arange(self.n)
        sim.reset(slots)
        qpos, qvel = sim.bind("qpos"), sim.bind("qvel")
        qpos[:, self.qadr] = np.tile(self.q0, (len(hands), 1))
        qvel[:, self.vadr] = np.tile(self.v0, (len(hands), 1))
        sim.bind("mocap_quat")[:, 0] = np.tile(self.quat, (len(hands), 1))
        a_prev = np.tile(self.a_prev, (len(hands), 1))
        ctrl = sim.bind("ctrl")
        ctrl[:, self.act] = a_prev
        if self.history_cols is not None:
            lat = np.clip(np.repeat(np.asarray(latencies, dtype=np.float64), w), 0.0, self.max_latency)
            # exactly L substeps back lands on a sample's stamp; with linear interpolation float
            # rounding there blends in a negligible share of the neighbour (cf. action_delay_seconds)
            sim.expand("actuator_delay")[:] = (lat * self.model.opt.timestep)[:, None]
            # the delay line holds the target in force before the window, as if held forever
            hist = sim.bind("history")
            hist[slots[:, None, None], self.history_cols] = a_prev[:, self.act][:, :, None]
        # armature changes the joint-space inertia that constraint softness is derived from
        sim.set_const(slots)
        sim.forward(slots, stage=mujoco.mjtStage.mjSTAGE_VEL)
        a_seq = np.tile(self.a_seq, (len(hands), 1, 1))
        out = np.empty((self.n, self.horizon, C.NUM_JOINTS))
        vel = np.empty_like(out) if velocities else None
        for k in range(self.horizon):
            ctrl[:, self.act] = a_seq[:, k]
            sim.step(nstep=self.substeps, stage=mujoco.mjtStage.mjSTAGE_VEL)
            out[:, k] = qpos[:, self.qadr]
            if vel is not None:
                vel[:, k] = qvel[:, self.vadr]
        shape = (len(hands), w, self.horizon, C.NUM_JOINTS)
        return (out.reshape(shape), vel.reshape(shape)) if vel is not None else out.reshape(shape)

    def errors(self, q: np.ndarray) -> np.ndarray:
        """Mean absolute joint error per candidate, rad."""
        return np.abs(q - self.q_true[None]).mean(axis=(1, 2, 3))


def simulate_joint_data(
    hand: HandConfig,
    latency_substeps: int,
    targets: np.ndarray,
    wrist_quat: np.ndarray,
    physics: PhysicsConfig = PhysicsConfig(),
    start_pos: np.ndarray | None = None,
) -> JointData:
    """Episodes of the training sim's hand (with ``hand`` and the latency) following ``targets``.

    ``targets`` is ``(E, T, 16)``; each episode starts at rest at ``start_pos`` ``(E, 16)``
    (default ``targets[:, 0]``) with ``targets[:, 0]`` in force before step 0. For a hand with
    known parameters (tests), or the sim's own response to a real hand's recorded targets.
    """
    e, t = targets.shape[:2]
    start = targets[:, 0] if start_pos is None else np.asarray(start_pos, dtype=np.float64)
    pos = np.repeat(start[:, None], t, axis=1).copy()
    data = JointData(pos, np.zeros_like(pos), targets, np.asarray(wrist_quat, dtype=np.float64))
    replay = HandReplay(
        data, np.stack([np.arange(e), np.ones(e, dtype=int)], axis=1), t - 2, 1, physics,
        max(latency_substeps, 1), nthread=0,
    )  # fmt: skip
    q, v = replay.run([hand], np.array([latency_substeps]), velocities=True)
    vel = np.zeros_like(pos)
    pos[:, 2:], vel[:, 2:] = q[0], v[0]
    return JointData(pos, vel, targets, data.wrist_quat)


def draw_windows(data: JointData, count: int, horizon: int, rng: np.random.Generator) -> np.ndarray:
    """``(count, 2)`` (episode, start step) pairs; each window has a previous target and ``horizon`` steps."""
    e, t = data.joint_pos.shape[:2]
    if t < horizon + 2:
        raise SysIdError(
            f"episodes of {t} steps are too short for {horizon}-step replay windows (need >= {horizon + 2}); "
            "use a shorter --horizon"
        )
    ep = rng.integers(0, e, size=count)
    start = rng.integers(1, t - horizon, size=count)
    return np.stack([ep, start], axis=1)


def identify_hand(
    data: JointData,
    cfg: SysIdConfig = SysIdConfig(),
    physics: PhysicsConfig = PhysicsConfig(),
    source: str = "",
    progress: bool = True,
) -> IdentifiedHand:
    """Fit ``FITTED`` HandConfig fields and the action latency of the training sim to ``data``."""
    import cma
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    t0 = time.time()
    rng = np.random.default_rng(cfg.seed)
    starts = draw_windows(data, cfg.windows, cfg.horizon, rng)
    replay = HandReplay(
        data, starts, cfg.horizon, cfg.population, physics, cfg.max_latency_substeps, cfg.nthread
    )
    dim = len(FITTED) + (1 if cfg.max_latency_substeps > 0 else 0)
    lo = [-cfg.log2_range] * len(FITTED) + ([0.0] if dim > len(FITTED) else [])
    hi = [cfg.log2_range] * len(FITTED) + ([float(cfg.max_latency_substeps)] if dim > len(FITTED) else [])
    # latency is searched in substeps over a range about twice the log2 range: scale it into the
    # same units so one step size suits every coordinate
    lat_unit = cfg.max_latency_substeps / (2 * cfg.log2_range) if dim > len(FITTED) else 1.0

    def decode(x: np.ndarray) -> tuple[list[HandConfig], np.ndarray]:
        x = np.atleast_2d(x)
        hands = replay.hand_params(x[:, : len(FITTED)])
        lat = x[:, len(FITTED)] * lat_unit if dim > len(FITTED) else np.zeros(len(x))
        return hands, lat

    def evaluate(xs: list[np.ndarray]) -> np.ndarray:
        hands, lat = decode(np.asarray(xs))
        pad = cfg.population - len(hands)
        if pad > 0:  # HandReplay runs a whole population; fill with copies of the first
            hands, lat = hands + [hands[0]] * pad, np.concatenate([lat, np.full(pad, lat[0])])
        return replay.errors(replay.run(hands, lat))[: len(xs)]

    nominal = np.zeros(dim)  # the training sim as it is, latency 0
    nominal_err = float(evaluate([nominal])[0])
    x0 = nominal.copy()
    if dim > len(FITTED):
        # the search starts mid-range in latency: from 0, on its bound, CMA-ES tends to stay there
        x0[len(FITTED)] = cfg.max_latency_substeps / 2 / lat_unit
    hold_err = float(np.abs(replay.q0[:, None] - replay.q_true).mean())
    lo_s = np.array(lo) / np.r_[np.ones(len(FITTED)), [lat_unit] * (dim - len(FITTED))]
    hi_s = np.array(hi) / np.r_[np.ones(len(FITTED)), [lat_unit] * (dim - len(FITTED))]
    es = cma.CMAEvolutionStrategy(
        x0.tolist(), cfg.sigma0,
        {"bounds": [lo_s.tolist(), hi_s.tolist()], "popsize": cfg.population, "seed": cfg.seed + 1,
         "verbose": -9},
    )  # fmt: skip
    best_x, best_err, history = nominal, nominal_err, []
    with Progress(
        TextColumn("sysid"), BarColumn(), TextColumn("{task.completed}/{task.total} generations"),
        TextColumn("best {task.fields[best]:.3f} mrad"), TimeElapsedColumn(), TimeRemainingColumn(),
        disable=not progress,
    ) as bar:  # fmt: skip
        task = bar.add_task("fit", total=cfg.generations, best=best_err * 1e3)
        for _ in range(cfg.generations):
            xs = es.ask()
            errs = evaluate(xs)
            es.tell(xs, errs.tolist())
            i = int(np.argmin(errs))
            if errs[i] < best_err:
                best_x, best_err = np.asarray(xs[i]), float(errs[i])
            history.append(best_err * 1e3)
            bar.update(task, advance=1, best=best_err * 1e3)
    hands, lat = decode(best_x)
    hand = hands[0]
    return IdentifiedHand(
        hand=hand,
        latency_substeps=int(np.rint(lat[0])),
        latency_fitted_substeps=float(lat[0]),
        error_nominal_mrad=nominal_err * 1e3,
        error_fitted_mrad=best_err * 1e3,
        error_hold_mrad=hold_err * 1e3,
        scales={f: getattr(hand, f) / getattr(physics.hand, f) for f in FITTED},
        windows=cfg.windows,
        horizon=cfg.horizon,
        evaluations=1 + cfg.generations * cfg.population,
        wall_s=time.time() - t0,
        source=source,
        history=tuple(history),
    )
