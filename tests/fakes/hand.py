"""A deterministic RealHand double: first-order joints, simulated time, optional load and slowness.

``FakeHand`` follows its targets like a position-controlled motor with time constant ``tau_s``;
its current is proportional to the tracking error (plus ``load_ma`` when loaded). Readings carry
Gaussian noise from ``seed`` drawn per control tick, so two hands with the same seed and the same
targets give identical episodes. ``advance(dt)`` steps simulated time (as SimulatedReality does);
``step_delay_s`` makes each ``advance`` take wall time too, so a test can kill a collector mid-run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from dexndm.collect.hands import OpenedHand
from dexndm.hand import constants as C
from dexndm.reality.base import HandState, RealHand


class FakeHand(RealHand):
    def __init__(
        self, *, seed: int = 0, tau_s: float = 0.08, load_ma: float = 0.0, step_delay_s: float = 0.0
    ) -> None:
        super().__init__()
        self.tau_s = tau_s
        self.load_ma = load_ma
        self.step_delay_s = step_delay_s
        self.rng = np.random.default_rng(seed)
        self.q = C.DEFAULT_POSE.copy()
        self.qdot = np.zeros(C.NUM_JOINTS)
        self.goal = C.DEFAULT_POSE.copy()
        self.time = 0.0
        self.connected = False
        self.advances = 0

    @property
    def is_connected(self) -> bool:
        return self.connected

    def _connect(self) -> None:
        self.connected = True

    def _disconnect(self) -> None:
        self.connected = False

    def read_state(self) -> HandState:
        noise = self.rng.normal(0.0, 1e-4, C.NUM_JOINTS)
        current_a = 1.0 * (self.goal - self.q) + self.load_ma * 1e-3
        return HandState(self.q + noise, self.qdot.copy(), current_a, self.time)

    def _write_joint_targets(self, joint_targets: np.ndarray) -> None:
        self.goal = joint_targets.copy()

    def advance(self, dt: float = C.CONTROL_DT) -> None:
        alpha = 1.0 - np.exp(-dt / self.tau_s)
        new_q = self.q + alpha * (self.goal - self.q)
        self.qdot = (new_q - self.q) / dt
        self.q = new_q
        self.time += dt
        self.advances += 1
        if self.step_delay_s:
            time.sleep(self.step_delay_s)


@dataclass
class FakeHands:
    """A HandOpener of FakeHands: one per wrist orientation, loaded hands draw ``load_ma`` more."""

    seed: int = 0
    step_delay_s: float = 0.0
    load_ma: float = 50.0
    opened: list[tuple[str, bool]] = field(default_factory=list)
    kind: str = "fake"
    turns_wrist: bool = True

    def open(self, wrist: str, loaded: bool) -> OpenedHand:
        self.opened.append((wrist, loaded))
        hand = FakeHand(
            seed=self.seed, load_ma=self.load_ma if loaded else 0.0, step_delay_s=self.step_delay_s
        )
        return OpenedHand(hand, {"hand": self.kind, "load": "box" if loaded else "none"})
