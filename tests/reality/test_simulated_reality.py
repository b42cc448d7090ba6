"""SimulatedReality: readings, latencies, the Dynamixel loop, grasps that hold, safety, determinism."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from dexndm.hand import constants as C
from dexndm.reality.base import SafetyFilter
from dexndm.reality.profile import RealityProfile, load_profile
from dexndm.reality.simulated import RAD_S_PER_VELOCITY_UNIT, SimulatedReality
from dexndm.sim.config import HandoverConfig
from dexndm.sim.grasp import GraspConfig, cached_grasps
from dexndm.sim.scene import PhysicsConfig

PIP = C.JOINT_NAMES.index("if_pip")
# A clean hand: no noise, jitter, sensing delay or play, so one effect at a time can be measured.
CLEAN = load_profile("default").replace(
    latency={"command_latency_ms": 0.0, "command_jitter_ms": 0.0, "sensing_latency_ms": 0.0,
             "sensing_jitter_ms": 0.0},
    encoder={"noise_ticks": 0.0, "current_noise_ma": 0.0},
    motor={"backlash_rad": 0.0},
)  # fmt: skip


def free_hand(profile: RealityProfile | str = CLEAN, **kwargs) -> SimulatedReality:
    """A connected hand without object at the default pose, settled for 0.2 s."""
    hand = SimulatedReality(profile, safety=SafetyFilter(max_delta_per_tick=None), **kwargs)
    hand.connect()
    hand.reset_to_grasp(C.DEFAULT_POSE, C.DEFAULT_POSE)
    hand.advance(0.2)
    return hand


def step_response(hand: SimulatedReality, joint: int, size: float, seconds: float) -> np.ndarray:
    """True position of ``joint`` at every physics step after a ``size`` rad step of its target."""
    targets = C.DEFAULT_POSE.copy()
    targets[joint] += size
    hand.send_joint_targets(targets)
    out = []
    for _ in range(int(round(seconds / hand.timestep))):
        hand.advance_steps(1)
        out.append(hand.joint_state_truth()[0][joint])
    return np.array(out)


def first_step_past(trajectory: np.ndarray, start: float, fraction: float, size: float) -> int:
    moved = np.flatnonzero((trajectory - start) / size >= fraction)
    assert len(moved), "the joint never got there"
    return int(moved[0])


def test_readings_are_whole_ticks_velocity_and_current_units() -> None:
    hand = free_hand()
    for k in range(6):
        hand.send_joint_targets(C.DEFAULT_POSE + 0.2 * np.sin(k + np.arange(16)))
        hand.advance()
        state = hand.read_state()
        ticks = state.joint_pos / C.RAD_PER_TICK
        np.testing.assert_allclose(ticks, np.round(ticks), atol=1e-9)
        truth = hand.joint_state_truth()[0]
        assert np.abs(state.joint_pos - truth).max() <= C.RAD_PER_TICK / 2 + 1e-12
        units = state.joint_vel / RAD_S_PER_VELOCITY_UNIT
        np.testing.assert_allclose(units, np.round(units), atol=1e-9)
        np.testing.assert_allclose(state.motor_current * 1e3, np.round(state.motor_current * 1e3), atol=1e-9)
        assert state.timestamp == pytest.approx(hand.time)
    # encoder noise moves readings by whole ticks
    noisy = free_hand(CLEAN.replace(encoder={"noise_ticks": 3.0}))
    errors = [noisy.read_state().joint_pos - noisy.joint_state_truth()[0] for _ in range(1)]
    ticks = errors[0] / C.RAD_PER_TICK
    assert np.abs(ticks).max() > 1.0
    np.testing.assert_allclose(ticks - np.round(ticks), 0.0, atol=0.5 + 1e-9)


def test_command_latency_delays_the_step_response_by_its_amount() -> None:
    starts = {}
    for latency_ms in (0.0, 20.0):
        hand = free_hand(CLEAN.replace(latency={"command_latency_ms": latency_ms}))
        q0 = hand.joint_state_truth()[0][PIP]
        starts[latency_ms] = first_step_past(step_response(hand, PIP, 0.3, 0.15), q0, 0.05, 0.3)
    assert starts[20.0] - starts[0.0] == 20  # 20 ms at 1 ms physics steps


def test_sensing_latency_returns_old_readings() -> None:
    hand = free_hand(CLEAN.replace(latency={"sensing_latency_ms": 10.0}))
    targets = C.DEFAULT_POSE.copy()
    targets[PIP] += 0.4
    hand.send_joint_targets(targets)
    truth, readings = [], []
    for _ in range(60):
        hand.advance_steps(1)
        truth.append(np.round(hand.joint_state_truth()[0][PIP] / C.RAD_PER_TICK))
        readings.append(hand.read_state().joint_pos[PIP] / C.RAD_PER_TICK)
    np.testing.assert_allclose(readings[10:], truth[:-10], atol=1e-9)
    assert readings[-1] != truth[-1]  # the joint is moving: a fresh reading would differ


@pytest.mark.parametrize(
    ("weak", "strong", "size"),
    [
        # a large step saturates the current: the limit sets the pace
        ({"current_limit_ma": 250.0}, {"current_limit_ma": 550.0}, 0.4),
        # a small one stays below it (400/128 mA/tick x 82 ticks = 256 mA): the gain sets the pace
        # (to half way: with P 400 the joint's dry friction holds it ~0.02 rad short of the goal)
        ({"p_gain": 400.0}, {"p_gain": 1600.0}, 0.05),
    ],
)
def test_more_current_or_gain_reaches_a_step_faster(weak: dict, strong: dict, size: float) -> None:
    rise = {}
    for label, motor in (("weak", weak), ("strong", strong)):
        hand = free_hand(CLEAN.replace(motor=motor))
        q0 = hand.joint_state_truth()[0][PIP]
        rise[label] = first_step_past(step_response(hand, PIP, size, 0.5), q0, 0.5, size)
    assert rise["strong"] < 0.8 * rise["weak"], rise


def chirp_tracking_rms(profile: str) -> float:
    """RMS (over joints and steps) of true position minus target for a 2 s chirp of every joint."""
    hand = free_hand(profile)
    hand.safety = SafetyFilter()
    hand.safety.reset(C.DEFAULT_POSE)
    phases = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    errors = []
    for k in range(40):
        t = k * C.CONTROL_DT
        sent = hand.send_joint_targets(
            C.DEFAULT_POSE + 0.25 * np.sin(2 * np.pi * (0.5 + 1.0 * t) * t + phases)
        )
        hand.advance()
        errors.append(hand.joint_state_truth()[0] - sent)
    return float(np.sqrt(np.mean(np.square(errors))))


def test_harsh_tracks_worse_than_mild() -> None:
    mild, harsh = chirp_tracking_rms("mild"), chirp_tracking_rms("harsh")
    assert harsh > 1.3 * mild, (mild, harsh)


@pytest.fixture(scope="module")
def cube_grasps(grasp_cache):
    hand = SimulatedReality("default", obj="cube")
    from pathlib import Path

    return cached_grasps(
        hand.obj, hand.wrist_quat, GraspConfig(candidates=32), PhysicsConfig(), Path(grasp_cache)
    )


def test_object_holds_for_two_seconds_palm_up_after_reset_to_grasp(cube_grasps) -> None:
    g = cube_grasps
    assert len(g) > 0
    # the mild profile's rubber fingertips: a grasp the sim found must sit still there (on the
    # default's bare printed tips a cube settles by ~0.2 rad, as a slippery real grasp would)
    with SimulatedReality("mild", wrist="palm_up", obj="cube", seed=1) as hand:
        hand.reset_to_grasp(g.joint_pos[0], g.joint_targets[0], g.object_pos[0], g.object_quat[0])
        start_pos, start_quat = hand.object_pose()
        np.testing.assert_allclose(
            start_pos, hand.wrist_pos + g.object_pos[0], atol=1e-9
        )  # palm up: identity
        for _ in range(40):  # 2 s of a hold policy: constant targets
            hand.send_joint_targets(g.joint_targets[0])
            hand.advance()
        pos, quat = hand.object_pose()
        assert np.linalg.norm(pos - start_pos) < 0.01
        assert abs(np.dot(quat, start_quat)) > np.cos(0.1)  # turned less than 0.2 rad
        assert np.linalg.norm(hand.object_angvel()) < 0.5
        assert hand.time == pytest.approx(2.0)


def test_a_held_object_stays_in_the_open_hand_until_let_go(cube_grasps) -> None:
    """The open-hand start of teleoperation: the operator holds the object, then lets go."""
    g = cube_grasps
    open_pose = np.asarray(HandoverConfig().open_pose)
    with SimulatedReality("default", wrist="palm_up", obj="cube", seed=1) as hand:
        hand.reset_to_grasp(open_pose, open_pose, g.object_pos[0], g.object_quat[0], held=True)
        start, _ = hand.object_pose()
        assert hand.object_held
        for _ in range(20):  # 1 s with the hand open: only the operator holds it
            hand.send_joint_targets(open_pose)
            hand.advance()
        assert np.linalg.norm(hand.object_pose()[0] - start) < 0.003
        hand.let_go()
        assert not hand.object_held
        hand.advance(0.3)
        assert start[2] - hand.object_pose()[0][2] > 0.03  # it drops onto the palm or out
        hand.reset_to_grasp(g.joint_pos[0], g.joint_targets[0], g.object_pos[0], g.object_quat[0])
        assert not hand.object_held  # a plain reset holds nothing


def test_send_joint_targets_returns_what_the_safety_filter_let_through() -> None:
    hand = SimulatedReality(CLEAN, safety=SafetyFilter(max_delta_per_tick=0.1))
    with hand:
        start = hand.read_state().joint_pos
        wanted = start + 5.0  # far past every upper limit
        sent = hand.send_joint_targets(wanted)
        np.testing.assert_allclose(sent, np.minimum(start + 0.1, C.JOINT_UPPER))
        for _ in range(20):
            hand.send_joint_targets(sent)  # hold the clipped targets
            hand.advance()
        # the motors got the clipped targets, not the wanted ones
        free = [i for i, n in enumerate(C.JOINT_NAMES) if not n.startswith("th")]
        assert np.abs(hand.joint_state_truth()[0][free] - sent[free]).max() < 0.05
        with pytest.raises(ValueError, match="if_dip=nan"):
            hand.send_joint_targets(np.where(np.arange(16) == 3, np.nan, sent))


def test_same_seed_same_readings_however_often_read() -> None:
    noisy = load_profile("harsh")
    a, b = SimulatedReality(noisy, seed=7), SimulatedReality(noisy, seed=7)
    with a, b:
        for k in range(5):
            targets = C.DEFAULT_POSE + 0.1 * np.cos(k + np.arange(16))
            a.send_joint_targets(targets)
            b.send_joint_targets(targets)
            for _ in range(10):  # b is polled every 5 ms, as the emulator would; a only once
                b.advance(0.005)
                b.read_state()
            a.advance()
            sa, sb = a.read_state(), b.read_state()
            np.testing.assert_array_equal(sa.joint_pos, sb.joint_pos)
            np.testing.assert_array_equal(sa.motor_current, sb.motor_current)
    other = SimulatedReality(noisy, seed=8)
    with other:
        other.send_joint_targets(targets)
        other.advance()
        assert not np.array_equal(other.read_state().motor_current, sa.motor_current)


def test_usage_errors_are_explained() -> None:
    hand = SimulatedReality(CLEAN)
    with pytest.raises(RuntimeError, match="not connected"):
        hand.read_state()
    with pytest.raises(ValueError, match="multiple of the profile's physics step"):
        hand.advance(0.0015)
    with pytest.raises(ValueError, match="has no object"):
        hand.reset_to_grasp(C.DEFAULT_POSE, C.DEFAULT_POSE, np.zeros(3), np.array([1.0, 0, 0, 0]))
    with pytest.raises(RuntimeError, match="has no object"):
        hand.object_pose()
    hand.connect()
    hand.disconnect()
    hand.advance()
    assert np.all(hand.joint_state_truth()[2] == 0.0)  # torque off after disconnect


def test_extra_scene_adds_to_the_world_before_compiling() -> None:
    def add_ball(spec: mujoco.MjSpec) -> None:
        ball = spec.worldbody.add_body(name="ball", pos=(0.0, 0.0, 0.3))
        ball.add_freejoint()
        ball.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=(0.02, 0, 0), mass=0.005)

    hand = SimulatedReality(CLEAN, extra_scene=add_ball)
    ball = hand.model.body("ball").id
    z0 = hand.data.xpos[ball][2]
    hand.advance(0.1)
    assert hand.data.xpos[ball][2] < z0 - 0.03  # a free body, falling under gravity


@pytest.mark.parametrize(
    ("contact", "condim"),
    [({}, 6), ({"rolling_friction": 0.0}, 4), ({"rolling_friction": 0.0, "torsional_friction": 0.0}, 3)],
)
def test_torsional_and_rolling_friction_reach_the_object_contacts(contact: dict, condim: int) -> None:
    # MuJoCo ignores both unless a contact's condim is 4 / 6: a profile key must not be inert
    profile = CLEAN.replace(contact={"torsional_friction": 0.02, **contact})
    with SimulatedReality(profile, obj="cube") as hand:
        m = hand.model
        obj = m.body("object").id
        colliding = np.flatnonzero((m.geom_bodyid == obj) & (m.geom_contype > 0))
        assert len(colliding) and np.all(m.geom_condim[colliding] == condim)
        assert np.allclose(m.geom_friction[colliding, 1], profile.contact.torsional_friction)


def blow_up_at(monkeypatch, physics_steps: set[int]) -> None:
    """Make a joint velocity non-finite just before these physics steps: MuJoCo then resets its
    world, as it does when a contact blows up."""
    torques = SimulatedReality._motor_torques

    def poisoned(self):
        if self._step in physics_steps:
            self.data.qvel[self._dof[0]] = np.nan
        return torques(self)

    monkeypatch.setattr(SimulatedReality, "_motor_torques", poisoned)


def test_a_world_that_blows_up_is_counted_and_the_wrist_stays_where_it_was_mounted(monkeypatch):
    hand = free_hand(wrist="palm_down")
    start = hand._step
    blow_up_at(monkeypatch, {start + 10})
    hand.advance()  # 50 physics steps at 1 ms
    assert hand.physics_divergences == 1
    np.testing.assert_allclose(hand.data.mocap_quat[hand._wrist_mocap], [0.0, 1.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(hand.data.mocap_pos[hand._wrist_mocap], hand.wrist_pos)
    hand.advance()
    assert hand.physics_divergences == 1  # counted once, not once per step after it
    # our own reset clears MuJoCo's counters; the next blow-up still counts
    hand.reset_to_grasp(C.DEFAULT_POSE, C.DEFAULT_POSE)
    blow_up_at(monkeypatch, {hand._step + 5})
    hand.advance()
    assert hand.physics_divergences == 2
    hand.disconnect()


def test_a_joint_forced_through_its_stop_counts_as_a_blow_up_and_the_world_resets(monkeypatch):
    """Chaos Box balls jammed against a finger once drove if_mcp to 47 rad with every value finite,
    so MuJoCo did not reset, and the broken finger was recorded for 14 more episodes. Past
    C.JOINT_STOP_OVERRUN_RAD the hand resets and counts it, as for a non-finite state; pressed a
    little past a stop (as contacts do) it does not."""
    hand = free_hand(wrist="palm_down")
    torques = SimulatedReality._motor_torques
    push = {"to": None}

    def forced(self):
        if push["to"] is not None:
            self.data.qpos[self._qpos[0]] = push["to"]
            push["to"] = None
        return torques(self)

    monkeypatch.setattr(SimulatedReality, "_motor_torques", forced)
    push["to"] = C.JOINT_UPPER[0] + 0.5 * C.JOINT_STOP_OVERRUN_RAD  # pressed past the stop: allowed
    hand.advance()
    assert hand.physics_divergences == 0
    time = hand.data.time
    push["to"] = C.JOINT_UPPER[0] + 3.0  # through it
    hand.advance()
    assert hand.physics_divergences == 1
    q = hand.data.qpos[hand._qpos]
    assert np.all(q <= C.JOINT_UPPER + C.JOINT_STOP_OVERRUN_RAD)  # the world was reset, not left broken
    assert hand.data.time > time  # the clock keeps running through the reset
    np.testing.assert_allclose(hand.data.mocap_quat[hand._wrist_mocap], [0.0, 1.0, 0.0, 0.0], atol=1e-9)
    hand.advance()
    assert hand.physics_divergences == 1
    hand.disconnect()
