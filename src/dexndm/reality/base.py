"""The interface every real hand implements, and the safety filter they all share.

A *real hand* is anything driven like the physical LEAP hand at the control rate: the hand
itself (:class:`dexndm.hardware.leap.LeapHand`) or a simulation standing in for it. All arrays
are in sim order (``dexndm.hand.constants.JOINT_NAMES``), in radians.

Example::

    with LeapHand(LeapHandConfig(port="/dev/ttyUSB0")) as hand:
        state = hand.read_state()
        sent = hand.send_joint_targets(state.joint_pos + 0.05)
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Self

import numpy as np

from dexndm.hand.constants import JOINT_LOWER, JOINT_NAMES, JOINT_UPPER, MAX_TARGET_STEP_RAD, NUM_JOINTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandState:
    """One reading of the hand, in sim order.

    Attributes:
        joint_pos: ``(16,)`` joint angles, rad (sim convention: 0 is the sim's zero).
        joint_vel: ``(16,)`` joint velocities, rad/s.
        motor_current: ``(16,)`` signed motor currents, A.
        timestamp: when the reading was taken, s, on the hand's own clock (monotonic; only
            differences are meaningful). A reading that could not be refreshed keeps its old
            timestamp, so ``timestamp`` not advancing means stale data.
    """

    joint_pos: np.ndarray
    joint_vel: np.ndarray
    motor_current: np.ndarray
    timestamp: float


@dataclass
class SafetyFilter:
    """What every hand does to joint targets before they reach the motors.

    1. rejects targets that are not ``(16,)`` or hold NaN/inf (``ValueError`` naming the joints);
    2. clamps them to the joint limits;
    3. caps the change from the previous sent target to ``max_delta_per_tick`` rad per joint.

    The cap applies after the clamp, so a hand starting outside its limits (see :meth:`reset`)
    is brought inside at most ``max_delta_per_tick`` per tick instead of jumping.
    """

    max_delta_per_tick: float | None = MAX_TARGET_STEP_RAD
    """Largest target change per call, rad (0.1 rad at 20 Hz = 2 rad/s); ``None``: no cap."""
    lower: np.ndarray = field(default_factory=lambda: JOINT_LOWER.copy())
    """``(16,)`` lower joint limits, rad."""
    upper: np.ndarray = field(default_factory=lambda: JOINT_UPPER.copy())
    """``(16,)`` upper joint limits, rad."""
    last_targets: np.ndarray | None = None
    """``(16,)`` previous output, rad; ``None`` until :meth:`reset` or the first call."""

    def __post_init__(self) -> None:
        if self.max_delta_per_tick is not None and not self.max_delta_per_tick > 0:
            raise ValueError(f"max_delta_per_tick must be > 0 or None, got {self.max_delta_per_tick}")

    def reset(self, current_targets: np.ndarray) -> None:
        """Start rate limiting from ``current_targets`` ``(16,)`` rad (e.g. the measured pose)."""
        self.last_targets = _validated(current_targets, "current_targets").copy()

    def __call__(self, joint_targets: np.ndarray) -> np.ndarray:
        """Filtered ``(16,)`` targets, rad. Remembers them as the start of the next cap."""
        targets = np.clip(_validated(joint_targets, "joint_targets"), self.lower, self.upper)
        if self.max_delta_per_tick is not None and self.last_targets is not None:
            step = np.clip(targets - self.last_targets, -self.max_delta_per_tick, self.max_delta_per_tick)
            targets = self.last_targets + step
        self.last_targets = targets
        return targets.copy()


def _validated(values: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (NUM_JOINTS,):
        raise ValueError(f"{what} must have shape ({NUM_JOINTS},) in sim order, got {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        names = ", ".join(f"{JOINT_NAMES[i]}={array[i]}" for i in np.flatnonzero(bad))
        raise ValueError(f"{what} rejected: non-finite values for {names}; nothing was sent")
    return array


class RealHand(ABC):
    """A hand driven at the control rate. Use as a context manager to always disconnect.

    Subclasses implement :meth:`_connect`, :meth:`_disconnect`, :meth:`read_state`,
    :meth:`_write_joint_targets` and :attr:`is_connected`; the safety filter, the connect
    sequence and the context manager live here so every hand behaves the same.
    """

    def __init__(self, safety: SafetyFilter | None = None) -> None:
        self.safety = safety if safety is not None else SafetyFilter()

    @property
    @abstractmethod
    def is_connected(self) -> bool:
        """Whether the hand is connected and accepting targets."""

    @abstractmethod
    def _connect(self) -> None:
        """Open the link and bring the hand to a state where it holds its current pose."""

    @abstractmethod
    def _disconnect(self) -> None:
        """Make the hand safe (torque off) and close the link. Must not raise if half-open."""

    @abstractmethod
    def read_state(self) -> HandState:
        """The latest :class:`HandState`."""

    @abstractmethod
    def _write_joint_targets(self, joint_targets: np.ndarray) -> None:
        """Send already-filtered ``(16,)`` targets, rad, sim order."""

    def connect(self) -> None:
        """Connect, then start the safety filter's rate limit from the measured pose.

        If anything fails the hand is disconnected again before the error propagates.
        """
        if self.is_connected:
            raise RuntimeError(f"{type(self).__name__} is already connected")
        try:
            self._connect()
            self.safety.reset(self.read_state().joint_pos)
        except BaseException:
            self._disconnect_quietly()
            raise

    def disconnect(self) -> None:
        """Disable torque and close the link; does nothing when not connected."""
        if self.is_connected:
            self._disconnect()

    def send_joint_targets(self, joint_targets: np.ndarray) -> np.ndarray:
        """Send ``(16,)`` joint targets, rad, sim order; return the targets actually sent.

        The returned targets are after the :class:`SafetyFilter` (clamped, rate limited).
        """
        if not self.is_connected:
            raise RuntimeError(f"{type(self).__name__} is not connected; call connect() first")
        safe = self.safety(joint_targets)
        self._write_joint_targets(safe)
        return safe

    def _disconnect_quietly(self) -> None:
        # Used while another exception is already propagating: report, never mask it.
        try:
            self._disconnect()
        except Exception:
            log.exception("%s: disconnect failed while handling another error", type(self).__name__)

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.disconnect()
        else:
            self._disconnect_quietly()
