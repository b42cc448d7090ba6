"""The teleoperation session: the operator's choices, the policy, and the 20 Hz control loop.

One control thread owns the driver and the policy. Commands from the page are queued and applied
at the start of the next tick, so no other thread ever touches the hand. Each tick::

    apply queued commands (axis, wrist, object, start / stop / reset, residual on / off)
    state = driver.read()
    running: obs = proprio_obs(q_hist, a_hist, wrist, axis)       (the env's own function)
             base = clamp(base + clip(policy(obs), -1, 1) / 24)
             targets = base + residual(obs, base)                  (when the residual is on)
    stopped: targets = base                                        (hold the pose)
    driver.send(targets); driver.advance(period)
    open-hand start: after let_go_s of running, the operator lets go (driver.let_go())
    publish a snapshot (body poses + readouts) to the page

The history ``(q_hist, a_hist)`` is kept exactly as ``RotationEnv`` keeps it (a test compares the
two step by step): after a (re)start both are filled with the current joint angles and targets;
then each tick pushes the new joint angles paired with the targets that were in force while they
were reached (the last ones set). ``a_hist`` holds the policy's own (base) targets: the residual
is a deployment-time correction the base policy never saw in training.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from dexndm.eval.policies import Policy, reset_policy, uses_privileged
from dexndm.hand import constants as C
from dexndm.reality.control_loop import RateLoop
from dexndm.sim.config import HandoverConfig
from dexndm.sim.observations import ProprioHistory
from dexndm.sim.rewards import rotation_about_axis
from dexndm.sim.wrists_axes import parse_axis, parse_wrist
from dexndm.teleop.drivers import DriverState, TeleopDriver
from dexndm.teleop.messages import Command
from dexndm.teleop.scene_view import HandPose, SceneMirror

log = logging.getLogger(__name__)

OMEGA_WINDOW = 10
"""Control periods (0.5 s) over which the angular velocity readout is averaged."""
RATE_WINDOW = 40
"""Ticks (2 s) over which the loop-rate readout is measured."""


class ResidualCorrection(Protocol):
    """A residual policy at deployment: ``targets = base + correct(obs, base)``.

    ``correct(obs: (1, D) float32 proprio, base_targets: (1, 16) rad) -> (1, 16) rad``.
    """

    def correct(self, obs: np.ndarray, base_targets: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class TeleopConfig:
    """The session's starting choices."""

    object: str = "cube"
    """Object name (``cube``, ``normal_cuboid/03``...) or mesh path."""
    wrist: str = "palm_up"
    """Wrist name or quaternion ``w,x,y,z``."""
    axis: str = "+z"
    """Rotation axis name or vector ``x,y,z`` (world frame)."""
    hz: float = C.CONTROL_HZ
    """Control rate (the policy's: 20 Hz)."""
    history: int = 10
    """T of the proprioceptive observation (the policy's)."""
    open_hand: bool = True
    """Start every grasp from an open hand, the object held by the operator (simulated: a weld)
    until ``let_go_s`` after start; the policy closes the hand. False: start from a cached grasp."""
    let_go_s: float = HandoverConfig().hold_steps * C.CONTROL_DT
    """Seconds after start at which the operator lets go (the policy learned to close in 2 s)."""


class PolicyFault(RuntimeError):
    """The policy returned actions the loop refuses (wrong shape, NaN or inf)."""


class TeleopSession:
    """The operator's choices, the policy and the driver; see the module docstring.

    Args:
        driver: the hand.
        policy: a proprioceptive policy (``dexndm.eval.policies.Policy``); privileged ones are
            refused, no real hand can feed them.
        residual: optional residual correction, toggled from the page.
        residual_note: why there is no residual (shown as the toggle's tooltip).
        config: starting object, wrist, axis and rates.
    """

    def __init__(
        self,
        driver: TeleopDriver,
        policy: Policy,
        *,
        residual: ResidualCorrection | None = None,
        residual_note: str = "",
        config: TeleopConfig = TeleopConfig(),
    ):
        if uses_privileged(policy):
            raise ValueError(
                f"{policy!r} reads privileged observations (object state, contacts) that a real hand "
                "cannot give; teleoperate a proprioceptive policy (the generalist)"
            )
        self.driver = driver
        self.policy = policy
        self.residual = residual
        self.residual_note = residual_note or "no residual loaded: start with --residual PATH"
        self.config = config
        self.period_s = 1.0 / config.hz
        self.object_name = config.object
        self.wrist_quat = parse_wrist(config.wrist)
        self.wrist_label = config.wrist
        self.axis = parse_axis(config.axis)
        self.axis_label = config.axis
        self.residual_on = False
        self.running = False
        self.status = "starting"
        self.tick_count = 0
        self.loop = RateLoop(config.hz)
        T = config.history
        self.history = ProprioHistory(T)
        self.base_targets = np.zeros(C.NUM_JOINTS)
        self.sent_targets = np.zeros(C.NUM_JOINTS)
        self._fresh_history = True
        self._commands: queue.SimpleQueue[tuple[Command, Callable[[str], None] | None]] = queue.SimpleQueue()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._lock = threading.Lock()
        self._snapshot: dict[str, Any] = {}
        self._tick_times: deque[float] = deque(maxlen=RATE_WINDOW)
        self._turn_steps: deque[float] = deque(maxlen=OMEGA_WINDOW)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.mirror: SceneMirror | None = None
        self._mirror_object = ""
        self.scene_version = 0
        """Grows when the geometry changes (another object): the page then asks for the new one."""
        self._regrasp()
        self.status = self._ready_text("ready")
        self._publish(self.driver.read())  # a page that connects before the first tick sees the grasp

    # ---- the page's side (any thread) -----------------------------------------------------------
    def submit(self, command: Command, reply: Callable[[str], None] | None = None) -> None:
        """Queue a command for the next tick; ``reply(error_text)`` is called if it is refused."""
        self._commands.put((command, reply))

    def add_listener(self, fn: Callable[[dict[str, Any]], None]) -> None:
        """``fn(snapshot)`` is called from the control thread after every tick (keep it short)."""
        self._listeners.append(fn)

    def snapshot(self) -> dict[str, Any]:
        """The latest published state (see :meth:`_publish`), a copy safe to read anywhere."""
        with self._lock:
            return dict(self._snapshot)

    def geometry(self) -> dict[str, Any]:
        """The current scene geometry for the page (:func:`dexndm.teleop.scene_view.scene_geometry`)."""
        assert self.mirror is not None
        return self.mirror.geometry

    # ---- the control thread ---------------------------------------------------------------------
    def start_thread(self) -> None:
        """Run :meth:`tick` at ``config.hz`` on a daemon thread until :meth:`close`."""
        if self._thread is not None:
            raise RuntimeError("the control thread is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="teleop-control", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.loop.start()
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # keep serving: the page shows the status, the log has the trace
                log.exception("control tick failed")
                self.running = False
                self.status = "error in the control loop (see the server log); press reset"
            self.loop.wait()

    def close(self) -> None:
        """Stop the control thread and release the hand."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self.driver.close()

    def tick(self) -> dict[str, Any]:
        """One control period (see the module docstring); returns the published snapshot."""
        self._tick_times.append(time.perf_counter())
        self._apply_commands()
        state = self.driver.read()
        if state.dropped:
            self._on_drop()
            state = self.driver.read()
        self._measure_turn(state)
        if self.running:
            try:
                targets = self._policy_targets(state)
            except PolicyFault as e:
                log.error("%s", e)
                self.running = False
                self.status = f"stopped: {e}"
                targets = self.base_targets
        else:
            targets = self.base_targets
        self.sent_targets = np.asarray(self.driver.send(targets), dtype=np.float64)
        self.driver.advance(self.period_s)
        self.tick_count += 1
        self._since_grasp += 1
        if self.running and self.held:
            self._held_running += 1
            if self._held_running * self.period_s >= self.config.let_go_s - 1e-9:
                self.driver.let_go()
                self.held = False
                self._since_grasp = 0  # the hand alone holds it from now on
                # a simulated operator lets go by itself; at a physical hand, the person does
                self.status = "running: " + (
                    "the operator let go" if self.driver.knows_object else "let go of the object now"
                )
        return self._publish(state)

    def _policy_targets(self, state: DriverState) -> np.ndarray:
        if self._fresh_history:
            self.history.start(state.joint_pos, self.base_targets)
            self._fresh_history = False
        else:
            self.history.push(state.joint_pos, self.base_targets)
        obs = self.history.obs(self.wrist_quat, self.axis)
        actions = np.asarray(self.policy.act({"proprio": obs}), dtype=np.float64)
        if actions.shape != (1, C.NUM_JOINTS) or not np.all(np.isfinite(actions)):
            raise PolicyFault(
                f"policy {self.policy!r} returned {actions.shape} actions"
                + ("" if actions.shape != (1, C.NUM_JOINTS) else " with NaN/inf")
                + f"; expected (1, {C.NUM_JOINTS}) finite values"
            )
        self.base_targets = C.clamp_to_limits(self.base_targets + np.clip(actions[0], -1, 1) * C.ACTION_SCALE)
        if not (self.residual_on and self.residual is not None):
            return self.base_targets
        delta = np.asarray(self.residual.correct(obs, self.base_targets[None]), dtype=np.float64).reshape(-1)
        if delta.shape != (C.NUM_JOINTS,) or not np.all(np.isfinite(delta)):
            raise PolicyFault(f"residual returned {delta.shape} corrections or NaN/inf; residual turned off")
        return C.clamp_to_limits(self.base_targets + delta)

    # ---- commands -------------------------------------------------------------------------------
    def _apply_commands(self) -> None:
        while True:
            try:
                command, reply = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                self._apply(command)
            except (ValueError, RuntimeError, FileNotFoundError) as e:
                log.warning("command %s refused: %s", command.kind, e)
                if reply is not None:
                    reply(f"{command.kind}: {e}")

    def _apply(self, command: Command) -> None:
        kind = command.kind
        if kind == "set_axis":
            self.axis, self.axis_label = np.asarray(command.value, dtype=np.float64), command.label
            self._turn_steps.clear()
            self._turned = 0.0 if self.driver.knows_object else None
        elif kind == "set_wrist":
            if self.driver.live_wrist:
                self.driver.set_wrist(np.asarray(command.value, dtype=np.float64))
                self.wrist_quat, self.wrist_label = np.asarray(command.value, dtype=np.float64), command.label
            else:
                self._regrasp_with(wrist=(np.asarray(command.value, dtype=np.float64), command.label))
                self.status = self._ready_text("wrist changed")
        elif kind == "set_object":
            self._regrasp_with(object_name=command.value)
            self.status = self._ready_text(self.object_name)
        elif kind == "set_residual":
            if command.value and self.residual is None:
                raise ValueError(self.residual_note)
            self.residual_on = bool(command.value)
        elif kind == "start":
            if not self.running:
                self._fresh_history = True
                reset_policy(self.policy, np.arange(1))
            self.running = True
            self.status = "running: closing the hand" if self.held else "running"
        elif kind == "stop":
            self.running = False
            self.status = "stopped: holding the pose"
        elif kind == "reset":
            self._regrasp()
            self.status = self._ready_text("reset")
        else:  # parse_command only lets COMMANDS through
            raise ValueError(f"unknown command {kind!r}")

    def _regrasp_with(
        self, object_name: str | None = None, wrist: tuple[np.ndarray, str] | None = None
    ) -> None:
        """Re-grasp with another object or wrist; if that fails (no grasp, unknown object), go back
        to the previous ones so the hand is never left without a grasp, and re-raise."""
        previous = (self.object_name, self.wrist_quat, self.wrist_label)
        if object_name is not None:
            self.object_name = object_name
        if wrist is not None:
            self.wrist_quat, self.wrist_label = wrist
        try:
            self._regrasp()
        except (ValueError, RuntimeError, FileNotFoundError):
            self.object_name, self.wrist_quat, self.wrist_label = previous
            self._regrasp()
            raise

    def _ready_text(self, what: str) -> str:
        if self.config.open_hand:
            return f"{what}: hand open, object held; press start to grasp"
        return f"{what}: new grasp; press start"

    def _regrasp(self) -> None:
        """Back to a grasp (or the open hand) of the current object at the current wrist; the
        policy stops."""
        self.running = False
        self.base_targets = np.asarray(
            self.driver.reset(self.object_name, self.wrist_quat, open_hand=self.config.open_hand),
            dtype=np.float64,
        )
        self.held = self.config.open_hand
        """The operator holds the object (open-hand start) until ``let_go_s`` of running."""
        self._held_running = 0
        self._fresh_history = True
        self._since_grasp = 0
        self._turn_steps.clear()
        self._turned: float | None = 0.0 if self.driver.knows_object else None
        self._last_quat: np.ndarray | None = None
        if self.mirror is None or self._mirror_object != self.object_name:
            from dexndm.objects import resolve_object

            self.mirror = SceneMirror(resolve_object(self.object_name))
            self._mirror_object = self.object_name
            self.scene_version += 1

    def _on_drop(self) -> None:
        log.info("object dropped after %.2f s", self._since_grasp * self.period_s)
        self._regrasp()
        self.status = self._ready_text("dropped")

    # ---- readouts -------------------------------------------------------------------------------
    def _measure_turn(self, state: DriverState) -> None:
        if state.object_quat is None:
            return
        quat = np.asarray(state.object_quat, dtype=np.float64)
        if self._last_quat is not None:
            step = float(rotation_about_axis(self._last_quat[None], quat[None], self.axis[None])[0])
            self._turn_steps.append(step)
            self._turned = (self._turned or 0.0) + step
        self._last_quat = quat

    def _loop_hz(self) -> float | None:
        t = self._tick_times
        if len(t) < 2 or t[-1] <= t[0]:
            return None
        return (len(t) - 1) / (t[-1] - t[0])

    def _publish(self, state: DriverState) -> dict[str, Any]:
        assert self.mirror is not None
        known = state.object_quat is not None
        poses = self.mirror.body_poses(
            HandPose(state.joint_pos, self.wrist_quat, state.object_pos, state.object_quat)
        )
        omega = float(np.mean(self._turn_steps)) / self.period_s if known and len(self._turn_steps) else None
        snap = {
            "tick": self.tick_count,
            "scene_version": self.scene_version,
            "running": self.running,
            "held": self.held,
            "status": self.status,
            "driver": self.driver.name,
            "object": self.object_name,
            "object_known": known,
            "axis": np.round(self.axis, 6).tolist(),
            "axis_label": self.axis_label,
            "wrist": np.round(self.wrist_quat, 6).tolist(),
            "wrist_label": self.wrist_label,
            "live_wrist": self.driver.live_wrist,
            "residual": {
                "available": self.residual is not None,
                "on": self.residual_on,
                "note": self.residual_note,
            },  # fmt: skip
            "readouts": {
                "omega_axis": omega,
                "turned_rad": self._turned if known else None,
                "time_since_grasp_s": self._since_grasp * self.period_s,
                "loop_hz": self._loop_hz(),
            },
            "poses": np.round(poses, 5).ravel().tolist(),
        }
        with self._lock:
            self._snapshot = snap
        for fn in self._listeners:
            fn(snap)
        return snap

    def loop_stats(self) -> dict[str, Any]:
        """The control loop's timing since it started (``RateLoop.stats``), JSON-ready."""
        s = self.loop.stats()
        return {
            "target_hz": 1.0 / s.target_period_s,
            "measured_hz": (1.0 / s.period_mean_s) if s.period_mean_s > 0 else None,
            "periods": s.num_periods,
            "period_std_ms": 1e3 * s.period_std_s,
            "jitter_ms": 1e3 * s.jitter_s,
            "overruns": s.num_overruns,
            "work_mean_ms": 1e3 * s.work_mean_s,
            "work_max_ms": 1e3 * s.work_max_s,
        }
