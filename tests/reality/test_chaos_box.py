"""The Chaos Box on SimulatedReality: it loads the fingers and the palm-up ball stays tied.

That the balls stay in the box is tested in test_chaos_box_escapes.py (20 s of simulation).
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from dexndm.collect.config import WaveConfig
from dexndm.collect.sources import wave_targets
from dexndm.reality.chaos_box import ChaosBox, ChaosBoxConfig, load_kind
from dexndm.reality.simulated import SimulatedReality
from dexndm.sim.scene import PhysicsConfig, build_scene_spec

SETTLE_S = 1.0


def _drive(hand: SimulatedReality, targets: np.ndarray, each_step=None) -> tuple[np.ndarray, np.ndarray]:
    """Settle, then send ``targets`` ``(T, 16)`` at 20 Hz; returns the readings ``(q rad, current A)``,
    each ``(T, 16)``."""
    q, current = np.empty_like(targets), np.empty_like(targets)
    with hand:
        hand.advance(SETTLE_S)
        for t, target in enumerate(targets):
            state = hand.read_state()
            q[t], current[t] = state.joint_pos, state.motor_current
            hand.send_joint_targets(target)
            hand.advance()
            if each_step is not None:
                each_step()
    return q, current


def _waves(seconds: float, seed: int = 1) -> np.ndarray:
    targets, _ = wave_targets("sine", round(seconds * 20), WaveConfig(), np.random.default_rng(seed))
    return targets


def _effort(current: np.ndarray) -> np.ndarray:
    """``(16,)`` mean |current| per joint, A."""
    return np.abs(current).mean(axis=0)


def test_the_box_loads_the_fingers():
    # palm down: the fingers hang into the balls; the other orientations are measured in
    # benchmarks/collection_speed.py (there the load is 9-34x the noise floor at every one)
    wrist = "palm_down"
    targets = _waves(4.0)
    q_free, i_free = _drive(SimulatedReality("default", wrist=wrist, seed=0), targets)
    # the same hand with other sensor-noise and latency draws: what differs without any load
    q_again, i_again = _drive(SimulatedReality("default", wrist=wrist, seed=1), targets)
    q_box, i_box = _drive(
        SimulatedReality("default", wrist=wrist, extra_scene=ChaosBox(wrist), seed=0), targets
    )

    def rms(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.sqrt(np.mean((a - b) ** 2)))

    # the balls hold the fingers back (joint positions) and the motors work harder or less (currents)
    assert rms(q_box, q_free) > 4 * rms(q_again, q_free)
    effort_change = np.abs(_effort(i_box) - _effort(i_free))
    noise = np.abs(_effort(i_again) - _effort(i_free))
    assert effort_change.mean() > 3 * noise.mean()
    # on several fingers' joints, not as one offset
    assert (effort_change > 3 * noise.mean()).sum() >= 4


def test_palm_up_ball_stays_tied_to_three_fingertips():
    cfg = ChaosBoxConfig()
    tether = ChaosBox("palm_up", cfg)
    assert tether.kind == "tether"
    hand = SimulatedReality("default", wrist="palm_up", extra_scene=tether, seed=0)
    model, data = hand.mj_model_data()
    stretch = []
    _drive(hand, _waves(10.0, seed=2), lambda: stretch.append(tether.layout.tether_stretch(model, data)))
    stretch = np.array(stretch)
    assert stretch.shape[1] == 3
    # never loose beyond the bandage's hard limit, and pulled taut at times (it loads the fingers)
    assert stretch.max() < cfg.tether_max_stretch + 0.005
    assert stretch.max() > 0.0
    ball = data.xpos[model.body("chaos_tether_ball").id]
    tips = np.array([data.site_xpos[model.site(t).id] for t in cfg.tether_fingertips])
    assert np.linalg.norm(tips - ball, axis=1).max() < 0.15


def test_which_load_for_which_wrist():
    assert load_kind("palm_up") == "tether"
    for wrist in ("palm_down", "base_up", "base_down", "thumb_up", "thumb_down"):
        assert load_kind(wrist) == "box"


def test_box_geometry_follows_the_config():
    cfg = ChaosBoxConfig(ball_count=12, wall_height=0.2, fingertip_height=0.04, seed=4)
    box = ChaosBox("thumb_up", cfg)
    spec = build_scene_spec_without_object()
    box(spec)
    model = spec.compile()
    layout = box.layout
    assert len(layout.ball_bodies) == 12 and layout.rim_z - layout.floor_z == pytest.approx(0.2)
    radii = np.array([model.geom_size[model.body(b).geomadr[0], 0] for b in layout.ball_bodies])
    assert np.all((radii >= cfg.ball_radius[0]) & (radii <= cfg.ball_radius[1]))
    # the hand never touches the box itself; the balls touch both
    hand_geom = model.geom("mf_tip_geom").id
    floor, ball = model.geom("chaos_box_floor").id, model.body(layout.ball_bodies[0]).geomadr[0]

    def collide(a: int, b: int) -> bool:
        return bool(
            model.geom_contype[a] & model.geom_conaffinity[b]
            or model.geom_contype[b] & model.geom_conaffinity[a]
        )

    assert not collide(hand_geom, floor) and collide(ball, floor) and collide(ball, hand_geom)


def build_scene_spec_without_object() -> mujoco.MjSpec:
    from dexndm.objects import resolve_object

    spec = build_scene_spec(resolve_object("cube"), PhysicsConfig(timestep=0.001, substeps=50))
    spec.delete(spec.body("object"))
    return spec


def test_bad_configs_say_what_to_change():
    with pytest.raises(ValueError, match="do not fit"):
        ChaosBox("palm_down", ChaosBoxConfig(ball_count=500))(build_scene_spec_without_object())
    with pytest.raises(ValueError, match="too small for the hand"):
        ChaosBox("palm_down", ChaosBoxConfig(inner_size=(0.1, 0.1)))(build_scene_spec_without_object())
    with pytest.raises(ValueError, match="twice the physics timestep"):
        ChaosBox("palm_down", ChaosBoxConfig(ball_solref=(0.001, 1.0)))(build_scene_spec_without_object())
    with pytest.raises(ValueError, match="fingertip sites"):
        ChaosBoxConfig(tether_fingertips=("if_tip", "pinky_tip"))
    with pytest.raises(ValueError, match="ball_radius"):
        ChaosBoxConfig(ball_radius=(0.03, 0.02))
    spec = mujoco.MjSpec()
    with pytest.raises(ValueError, match="no body named 'wrist'"):
        ChaosBox("palm_down")(spec)
