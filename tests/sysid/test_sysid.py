"""System identification recovers a hand simulated with known parameters, and refuses bad input."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from dexndm import sysid as S
from dexndm.hand import constants as C
from dexndm.hand.model import HandConfig


def _smooth_targets(episodes: int, steps: int, seed: int) -> np.ndarray:
    """Per-joint sines about mid-range: every joint moves, as in a free-hand collection."""
    rng = np.random.default_rng(seed)
    mid = (np.asarray(C.JOINT_LOWER) + np.asarray(C.JOINT_UPPER)) / 2
    t = np.arange(steps)[None, :, None] * C.CONTROL_DT
    amp = rng.uniform(0.1, 0.4, (episodes, 1, C.NUM_JOINTS))
    freq = rng.uniform(0.3, 1.5, (episodes, 1, C.NUM_JOINTS))
    phase = rng.uniform(0, 2 * np.pi, (episodes, 1, C.NUM_JOINTS))
    targets = C.clamp_to_limits(mid + amp * np.sin(2 * np.pi * freq * t + phase))
    targets[:, 0] = targets[:, 1]
    return targets


def test_identification_recovers_a_known_hand():
    # a weaker, laggier, more frictional hand than the training sim's, palm up and palm down
    true = dataclasses.replace(HandConfig(), kp=1.5, kd=0.05, torque_limit=0.25, frictionloss=0.02)
    quats = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]] * 6)
    data = S.simulate_joint_data(true, 2, _smooth_targets(12, 80, seed=0), quats)
    res = S.identify_hand(data, S.SysIdConfig(windows=32, generations=60, seed=0), progress=False)
    assert res.latency_substeps == 2
    for f in ("kp", "torque_limit", "frictionloss"):
        assert getattr(res.hand, f) == pytest.approx(getattr(true, f), rel=0.1), f
    # the nominal training sim is far off; the identified one replays the windows almost exactly
    assert res.error_nominal_mrad > 10.0
    assert res.error_fitted_mrad < 0.1 * res.error_nominal_mrad
    assert res.history == tuple(sorted(res.history, reverse=True))


def test_result_round_trips_and_a_foreign_file_is_refused(tmp_path):
    res = S.IdentifiedHand(
        hand=dataclasses.replace(HandConfig(), kp=2.0), latency_substeps=1, latency_fitted_substeps=0.8,
        error_nominal_mrad=10.0, error_fitted_mrad=3.0, error_hold_mrad=30.0, scales={"kp": 2 / 3},
    )  # fmt: skip
    path = res.save(tmp_path / "hand.json")
    assert S.IdentifiedHand.load(path) == res
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"kp": 2.0}))
    with pytest.raises(S.SysIdError, match="not a dexndm system-identification result"):
        S.IdentifiedHand.load(other)


def test_episodes_too_short_for_the_horizon_are_refused():
    quats = np.tile([1.0, 0, 0, 0], (2, 1))
    data = S.simulate_joint_data(HandConfig(), 0, _smooth_targets(2, 8, seed=1), quats)
    with pytest.raises(S.SysIdError, match="too short"):
        S.identify_hand(data, S.SysIdConfig(horizon=10, generations=1), progress=False)


def test_joint_data_with_nan_is_refused():
    q = np.zeros((1, 5, C.NUM_JOINTS))
    q[0, 2, 3] = np.nan
    with pytest.raises(S.SysIdError, match="NaN"):
        S.JointData(q, np.zeros_like(q), np.zeros_like(q), np.array([[1.0, 0, 0, 0]]))
