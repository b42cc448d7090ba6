"""Motor physics behind the device emulator, in sim order and SI units.

The emulator asks a :class:`MotorBackend` where the joints are; any model can stand behind it:
the first-order servo here (known dynamics for tests) or the MuJoCo simulated hand
(:class:`SimulatedRealityBackend`, serving :class:`dexndm.reality.simulated.SimulatedReality`).

Example (a LEAP hand on a pseudo-terminal, backed by the simulated reality)::

    reality = SimulatedReality("default", obj="cube")
    with DynamixelEmulator(SimulatedRealityBackend(reality)) as emulator:
        with LeapHand(LeapHandConfig(port=emulator.port)) as hand:
            ...
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from dexndm.hand.constants import DEFAULT_POSE, NUM_JOINTS

if TYPE_CHECKING:
    from dexndm.reality.simulated import SimulatedReality


@runtime_checkable
class MotorBackend(Protocol):
    """Joint-level physics driven by the emulator. All arrays ``(16,)``, sim order."""

    def set_goal_positions(self, joint_targets: np.ndarray) -> None:
        """New position goals, rad (sim convention). Held until the next call."""

    def advance_to(self, t: float) -> None:
        """Advance the physics to time ``t``, s. ``t`` never decreases."""

    def joint_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(joint_pos rad, joint_vel rad/s, motor_current A)`` at the current time."""


class FirstOrderServoBackend:
    """Each joint follows its goal with time constant ``time_constant_s``, exactly.

    ``pos(t + dt) = goal + (pos(t) - goal) * exp(-dt / tau)``; velocity is the exact derivative
    ``(goal - pos) / tau``; current is proportional to the position error, saturated.

    Args:
        initial_pos: ``(16,)`` starting joint positions, rad (goal starts there too).
        time_constant_s: tau, s.
        current_per_rad_a: current per rad of position error, A/rad.
        max_current_a: current saturation, A.
    """

    def __init__(
        self,
        initial_pos: np.ndarray = DEFAULT_POSE,
        *,
        time_constant_s: float = 0.05,
        current_per_rad_a: float = 1.0,
        max_current_a: float = 0.35,
    ) -> None:
        if not time_constant_s > 0:
            raise ValueError(f"time_constant_s must be positive, got {time_constant_s}")
        self.pos = np.array(initial_pos, dtype=np.float64).reshape(NUM_JOINTS)
        self.goal = self.pos.copy()
        self.time_constant_s = time_constant_s
        self.current_per_rad_a = current_per_rad_a
        self.max_current_a = max_current_a
        self.t: float | None = None

    def set_goal_positions(self, joint_targets: np.ndarray) -> None:
        self.goal = np.array(joint_targets, dtype=np.float64).reshape(NUM_JOINTS)

    def advance_to(self, t: float) -> None:
        if self.t is not None and t > self.t:
            decay = np.exp(-(t - self.t) / self.time_constant_s)
            self.pos = self.goal + (self.pos - self.goal) * decay
        if self.t is None or t > self.t:
            self.t = t

    def joint_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        error = self.goal - self.pos
        current = np.clip(self.current_per_rad_a * error, -self.max_current_a, self.max_current_a)
        return self.pos.copy(), error / self.time_constant_s, current


class SimulatedRealityBackend:
    """The emulator's motors are a :class:`~dexndm.reality.simulated.SimulatedReality`'s.

    Goals go to ``reality.set_goal_positions`` (the motors' side: command latency and tick
    rounding, no safety filter: the driver has its own); ``joint_state`` is what the motors report
    (``reality.sensed_state``: quantized, noisy, delayed). Time: the first ``advance_to(t)`` pins
    emulator time ``t`` to the reality's current time; later calls run whole physics steps up to
    ``t`` (a remainder waits for the next call), so a clock advanced by control periods gives the
    same trajectory as driving the reality directly.

    Args:
        reality: the simulated hand; leave it to the emulator's thread while it serves.
    """

    def __init__(self, reality: SimulatedReality) -> None:
        self.reality = reality
        self._origin: float | None = None  # emulator time pinned to the reality's time at the start
        self._steps = 0  # physics steps run since then

    def set_goal_positions(self, joint_targets: np.ndarray) -> None:
        self.reality.set_goal_positions(joint_targets)

    def advance_to(self, t: float) -> None:
        if self._origin is None:
            self._origin = t
            return
        # the small epsilon keeps t = k * dt from landing one step short through rounding
        target = math.floor((t - self._origin) / self.reality.timestep + 1e-6)
        if target > self._steps:
            self.reality.advance_steps(target - self._steps)
            self._steps = target

    def joint_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        state = self.reality.sensed_state()
        return state.joint_pos, state.joint_vel, state.motor_current
