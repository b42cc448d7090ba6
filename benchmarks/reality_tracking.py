"""Joint tracking of each shipped reality profile beside the training sim, on the same targets.

A free hand (no object), palm up, starts settled at the default pose and follows two 4 s target
sequences given to all 16 joints at 20 Hz (each joint with its own phase):

* ``chirp``: ``0.25 sin(2 pi (f0 t + (f1 - f0) t^2 / 2T) + phase)`` rad around the default pose,
  from f0 = 0.5 Hz to f1 = 3 Hz;
* ``steps``: a +-0.2 rad square wave around the default pose, switching every 0.5 s.

Targets go in unfiltered (no rate cap), as in the training sim. Reported per profile and sequence:

* ``tracking RMS``: RMS over joints and control steps of (true joint position - target) at the end
  of each control period, rad;
* ``gap to sim RMS``: RMS of (reality joint position - training-sim joint position), rad: the
  difference a dynamics model has to learn;
* ``x real time``: simulated seconds per wall second of the reality (one hand, one thread).

    .venv/bin/python benchmarks/reality_tracking.py
"""

from __future__ import annotations

import argparse
import time

import mujoco
import numpy as np

from dexndm.hand import constants as C
from dexndm.objects import resolve_object
from dexndm.reality.base import SafetyFilter
from dexndm.reality.profile import SHIPPED_PROFILES
from dexndm.reality.simulated import SimulatedReality
from dexndm.sim.scene import OBJECT_BODY, PhysicsConfig, build_scene_spec

SECONDS = 4.0
SETTLE_S = 0.2


def target_sequences(seconds: float = SECONDS) -> dict[str, np.ndarray]:
    """``{name: (steps, 16) targets, rad}`` at the control rate, clamped to the joint limits."""
    t = np.arange(int(round(seconds / C.CONTROL_DT)))[:, None] * C.CONTROL_DT
    phase = np.linspace(0.0, 2.0 * np.pi, C.NUM_JOINTS, endpoint=False)
    f0, f1 = 0.5, 3.0
    chirp = 0.25 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds)) + phase)
    square = 0.2 * np.where(np.sin(np.pi * t / 0.5 + phase + 0.1) >= 0, 1.0, -1.0)
    return {
        name: C.clamp_to_limits(C.DEFAULT_POSE + offset)
        for name, offset in (("chirp", chirp), ("steps", square))
    }


def run_training_sim(targets: np.ndarray) -> np.ndarray:
    """Joint positions ``(steps, 16)`` of the training sim's hand (PD kp 3, kd 0.1, 0.5 Nm, 1/120 s)."""
    physics = PhysicsConfig()
    spec = build_scene_spec(resolve_object("cube"), physics)
    spec.delete(spec.body(OBJECT_BODY))
    model = spec.compile()
    data = mujoco.MjData(model)
    qpos = [model.jnt_qposadr[model.joint(n).id] for n in C.JOINT_NAMES]
    act = [model.actuator(n).id for n in C.JOINT_NAMES]
    data.qpos[qpos] = C.DEFAULT_POSE
    data.ctrl[act] = C.DEFAULT_POSE
    mujoco.mj_step(model, data, nstep=int(round(SETTLE_S / physics.timestep)))
    out = []
    for target in targets:
        data.ctrl[act] = target
        mujoco.mj_step(model, data, nstep=physics.substeps)
        out.append(data.qpos[qpos].copy())
    return np.array(out)


def run_reality(profile: str, targets: np.ndarray, seed: int = 0) -> tuple[np.ndarray, float]:
    """Joint positions ``(steps, 16)`` of SimulatedReality, and its simulated/wall time ratio."""
    hand = SimulatedReality(profile, seed=seed, safety=SafetyFilter(max_delta_per_tick=None))
    out = []
    with hand:
        hand.reset_to_grasp(C.DEFAULT_POSE, C.DEFAULT_POSE)
        hand.advance(SETTLE_S)
        t0 = time.perf_counter()
        for target in targets:
            hand.send_joint_targets(target)
            hand.advance()
            out.append(hand.joint_state_truth()[0])
        wall = time.perf_counter() - t0
    return np.array(out), len(targets) * C.CONTROL_DT / wall


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=list(SHIPPED_PROFILES))
    args = parser.parse_args()
    sequences = target_sequences()
    print("| hand | sequence | tracking RMS (rad) | gap to sim RMS (rad) | x real time |")
    print("|---|---|---|---|---|")
    sim = {name: run_training_sim(targets) for name, targets in sequences.items()}
    for name, targets in sequences.items():
        print(f"| training sim | {name} | {rms(sim[name] - targets):.4f} | 0 | - |")
    for profile in args.profiles:
        for name, targets in sequences.items():
            q, speed = run_reality(profile, targets)
            print(f"| {profile} | {name} | {rms(q - targets):.4f} | {rms(q - sim[name]):.4f} | {speed:.1f} |")


if __name__ == "__main__":
    main()
