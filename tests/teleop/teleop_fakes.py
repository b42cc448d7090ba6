"""Fakes for the teleop tests: policies and a residual with known output (the hand: ``fakes.hand``)."""

from __future__ import annotations

import numpy as np

from dexndm.hand import constants as C


class RecordingPolicy:
    """Seeded random actions; keeps every observation it was given."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.observations: list[np.ndarray] = []
        self.resets = 0

    def reset(self, env_ids: np.ndarray) -> None:
        self.resets += 1

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        self.observations.append(obs["proprio"].copy())
        return self.rng.uniform(-1, 1, size=(len(obs["proprio"]), C.NUM_JOINTS))


class NaNPolicy:
    """Returns NaN actions: the loop must refuse them and stop, not send them."""

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return np.full((len(obs["proprio"]), C.NUM_JOINTS), np.nan)


class PrivilegedPolicy:
    uses_privileged = True

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return np.zeros((len(obs["proprio"]), C.NUM_JOINTS))


class ConstantResidual:
    """Adds ``delta`` rad to every joint target."""

    def __init__(self, delta: float = 0.01) -> None:
        self.delta = delta
        self.calls = 0

    def correct(self, obs: np.ndarray, base_targets: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.full_like(base_targets, self.delta)
