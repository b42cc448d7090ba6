"""The Chaos Box keeps its balls: 20 s of per-joint sine waves, palm down (the fingers in the balls)."""

from __future__ import annotations

import numpy as np
import pytest
from test_chaos_box import _drive, _waves

from dexndm.reality.chaos_box import ChaosBox
from dexndm.reality.simulated import SimulatedReality


@pytest.mark.slow
def test_balls_stay_in_the_box_for_20_s():
    box = ChaosBox("palm_down")
    hand = SimulatedReality("default", wrist="palm_down", extra_scene=box, seed=0)
    model, data = hand.mj_model_data()
    escaped_ever = np.zeros(len(box.layout.ball_bodies), dtype=bool)
    balls = np.array([model.body(b).id for b in box.layout.ball_bodies])
    top_speed = [0.0]

    def check() -> None:
        escaped_ever[:] |= box.layout.escaped_balls(model, data)
        top_speed[0] = max(top_speed[0], float(np.linalg.norm(data.cvel[balls, 3:], axis=1).max()))

    _drive(hand, _waves(20.0), check)
    assert escaped_ever.sum() == 0, f"{escaped_ever.sum()} of {len(escaped_ever)} balls left the box"
    assert top_speed[0] < 3.0, f"a ball reached {top_speed[0]:.1f} m/s: the box is not stable"
    # the balls really were moved about by the hand, not resting untouched
    assert top_speed[0] > 0.05
