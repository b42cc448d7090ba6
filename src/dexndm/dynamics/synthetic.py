"""A synthetic hand with known per-joint dynamics, for tests and benchmarks of the dynamics models.

Each joint ``i`` is a PD-driven second-order system with its own stiffness ``k_i``, damping
``c_i``, inertia ``m_i``, Coulomb-like friction ``f_i``, a gravity-like load ``g_i cos(q_i)`` and a
command latency of ``d_i`` control steps (0-2):

    m_i qdd_i = k_i (a_{t-d_i} - q_i) - c_i qd_i - f_i tanh(qd_i / 0.05) - g_i cos(q_i)
                + coupling * k_i * (mean of the other joints of the finger - q_i)

integrated with semi-implicit Euler at ``substeps`` sub-steps per 50 ms control step. With
``coupling = 0`` the joints are independent, which is the joint-wise model's assumption; a
positive ``coupling`` adds a spring to the other joints of the same finger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexndm.hand.constants import CONTROL_DT, DEFAULT_POSE, FINGER_OF_JOINT, NUM_JOINTS


@dataclass(frozen=True)
class SyntheticHandParams:
    """Per-joint physical parameters, each ``(J,)``, SI units (rad, s; unit-less inertia scale)."""

    stiffness: np.ndarray
    damping: np.ndarray
    inertia: np.ndarray
    friction: np.ndarray
    gravity: np.ndarray
    delay_steps: np.ndarray
    """Integer command latency in control steps."""
    coupling: float = 0.0

    @property
    def num_joints(self) -> int:
        return int(self.stiffness.shape[0])


def random_hand_params(
    seed: int, num_joints: int = NUM_JOINTS, coupling: float = 0.0, max_delay_steps: int = 2
) -> SyntheticHandParams:
    """Draw a hand whose joints differ: natural frequency 6-14 rad/s, damping ratio 0.4-1.0."""
    rng = np.random.default_rng(seed)
    inertia = rng.uniform(0.5, 2.0, num_joints)
    omega = rng.uniform(6.0, 14.0, num_joints)
    zeta = rng.uniform(0.4, 1.0, num_joints)
    stiffness = inertia * omega**2
    return SyntheticHandParams(
        stiffness=stiffness,
        damping=2.0 * zeta * np.sqrt(stiffness * inertia),
        inertia=inertia,
        friction=rng.uniform(0.0, 0.3, num_joints) * inertia,
        # Up to ~0.1 rad of steady-state sag, so the model must use the absolute position too.
        gravity=rng.uniform(0.0, 0.1, num_joints) * stiffness,
        delay_steps=rng.integers(0, max_delay_steps + 1, num_joints),
        coupling=coupling,
    )


def simulate_hand(
    params: SyntheticHandParams,
    joint_targets: np.ndarray,
    q0: np.ndarray | None = None,
    substeps: int = 8,
    dt: float = CONTROL_DT,
) -> np.ndarray:
    """Drive the hand with targets ``(E, T, J)`` (rad); returns joint positions ``(E, T, J)`` (rad).

    ``joint_targets[:, t]`` is applied (after its joint's latency) during step ``t`` and produces
    ``joint_pos[:, t + 1]``; the hand starts at rest at ``q0`` ``(E, J)`` (default: the first target).
    """
    num_episodes, num_steps, num_joints = joint_targets.shape
    if num_joints != params.num_joints:
        raise ValueError(f"targets have {num_joints} joints, params {params.num_joints}")
    q = joint_targets[:, 0].copy() if q0 is None else np.array(q0, dtype=np.float64)
    v = np.zeros_like(q)
    finger = FINGER_OF_JOINT if num_joints == NUM_JOINTS else np.zeros(num_joints, dtype=int)
    same_finger = (finger[:, None] == finger[None, :]).astype(np.float64)
    neighbours = (same_finger - np.eye(num_joints)) / np.maximum(same_finger.sum(1, keepdims=True) - 1, 1)
    joint_pos = np.empty((num_episodes, num_steps, num_joints))
    h = dt / substeps
    cols = np.arange(num_joints)
    for t in range(num_steps):
        joint_pos[:, t] = q
        a_eff = joint_targets[:, np.maximum(t - params.delay_steps, 0), cols]  # (E, J)
        for _ in range(substeps):
            force = (
                params.stiffness * (a_eff - q)
                - params.damping * v
                - params.friction * np.tanh(v / 0.05)
                - params.gravity * np.cos(q)
            )
            if params.coupling:
                force += params.coupling * params.stiffness * (q @ neighbours.T - q)
            v = v + h * force / params.inertia
            q = q + h * v
    return joint_pos


def smooth_targets(
    seed: int,
    num_episodes: int,
    num_steps: int,
    num_joints: int = NUM_JOINTS,
    amplitude_rad: float = 0.3,
    synergies: int | None = None,
    mixing_seed: int = 0,
    noise_std_rad: float = 0.01,
    center: np.ndarray | None = None,
) -> np.ndarray:
    """Random smooth target sequences ``(E, T, J)`` in rad, about ``center`` (default DEFAULT_POSE).

    Each signal is a sum of four sinusoids (0.1-1.5 Hz, random phase) scaled to a standard
    deviation of about ``amplitude_rad``. With ``synergies = S`` the J joint signals are fixed
    mixtures (matrix drawn from ``mixing_seed``, shared by all episodes) of S latent signals,
    like a policy that moves the fingers in a few coordinated patterns; with None every joint
    moves independently. Half the episodes get Gaussian noise of ``noise_std_rad`` per step
    (the paper's action noise in data collection).
    """
    rng = np.random.default_rng(seed)
    num_signals = num_joints if synergies is None else synergies
    time = np.arange(num_steps) * CONTROL_DT
    freq = rng.uniform(0.1, 1.5, (num_episodes, 1, num_signals, 4))
    phase = rng.uniform(0, 2 * np.pi, (num_episodes, 1, num_signals, 4))
    weight = rng.uniform(0.5, 1.0, (num_episodes, 1, num_signals, 4))
    signals = (weight * np.sin(2 * np.pi * freq * time[None, :, None, None] + phase)).sum(-1)
    signals /= np.sqrt((weight**2).sum(-1) / 2)  # unit standard deviation per signal
    if synergies is not None:
        mixing = np.random.default_rng(mixing_seed).normal(size=(synergies, num_joints))
        mixing /= np.linalg.norm(mixing, axis=0, keepdims=True)  # keeps unit std per joint
        signals = signals @ mixing
    if center is None:
        center = DEFAULT_POSE if num_joints == NUM_JOINTS else np.zeros(num_joints)
    targets = center + amplitude_rad * signals
    noisy = rng.random(num_episodes) < 0.5
    targets[noisy] += rng.normal(0.0, noise_std_rad, targets[noisy].shape)
    return targets
