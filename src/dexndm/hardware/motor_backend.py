"""Motor physics behind the device emulator, in sim order and SI units.

The emulator asks a :class:`MotorBackend` where the joints are; any model can stand behind it:
the first-order servo here (known dynamics for tests) or a MuJoCo simulated hand.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from dexndm.hand.constants import DEFAULT_POSE, NUM_JOINTS


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
