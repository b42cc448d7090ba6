"""Action latency: new targets reach the PD exactly L substeps late, from the first step of every
episode, as in a plain single-simulation MuJoCo loop that switches ``ctrl`` by hand."""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np
import pytest

from dexndm.sim.config import EnvConfig, RandomizationConfig
from dexndm.sim.env import RotationEnv
from dexndm.sim.scene import action_delay_seconds, add_action_delay

N = 12


@pytest.fixture(scope="module")
def latency_cfg(cfg) -> EnvConfig:
    """Nominal physics and no disturbance forces, but a latency of 0-3 substeps drawn per env."""
    rand = dataclasses.replace(RandomizationConfig.none(), latency_substeps=(0, 3))
    return dataclasses.replace(cfg, num_envs=N, wrists=("palm_up",), seed=2, randomization=rand)


def reference_start(env: RotationEnv, i: int) -> tuple[mujoco.MjModel, mujoco.MjData]:
    """Env ``i``'s model (its own masses, gains...) without delay, and a copy of its state now."""
    grp = env.groups[env.group_of[i]]
    slot = int(env.slot_of[i])
    model = grp.sim.get_model(slot)
    model.actuator_delay[:] = 0.0  # ctrl acts at once: reference_qpos does the delaying
    return model, grp.sim.get_data(slot)


def reference_qpos(
    start: tuple[mujoco.MjModel, mujoco.MjData], targets: list[np.ndarray], latency: int, substeps: int
) -> np.ndarray:
    """(steps, nq) qpos after each control step c, in which ``targets[c + 1]`` replaces
    ``targets[c]`` after ``latency`` substeps."""
    model, data = start
    out = []
    for prev, new in zip(targets[:-1], targets[1:], strict=True):
        for s in range(substeps):
            data.ctrl[:] = prev if s < latency else new
            mujoco.mj_step(model, data)
        out.append(data.qpos.copy())
    return np.array(out)


def env_qpos(env: RotationEnv, i: int) -> np.ndarray:
    return env.groups[env.group_of[i]].sim.bind("qpos")[env.slot_of[i]].copy()


def run_and_compare(env: RotationEnv, actions: np.ndarray) -> None:
    """Step ``env`` with ``actions`` (steps, N, 16) and check every env against its reference
    loop at its own latency L, and that latency L + 1 would have been told apart."""
    sub = env.cfg.physics.substeps
    starts = [reference_start(env, i) for i in range(env.num_envs)]
    starts_late = [reference_start(env, i) for i in range(env.num_envs)]
    targets, qpos = [env.targets.copy()], []
    for a in actions:
        env.step(a)
        targets.append(env.targets.copy())
        qpos.append([env_qpos(env, i) for i in range(env.num_envs)])
    for i in range(env.num_envs):
        per_env = [t[i] for t in targets]
        got = np.array([q[i] for q in qpos])
        want = reference_qpos(starts[i], per_env, int(env.latency[i]), sub)
        np.testing.assert_allclose(got, want, rtol=0, atol=0, err_msg=f"env {i}, L={env.latency[i]}")
        late = reference_qpos(starts_late[i], per_env, int(env.latency[i]) + 1, sub)
        assert np.abs(late - got).max() > 1e-6, f"env {i}: latency L + 1 moves the hand the same"


def test_new_targets_act_exactly_latency_substeps_late(latency_cfg):
    env = RotationEnv(latency_cfg)
    env.autoreset = False  # a dropped cube must not restart its env mid-comparison
    assert set(env.latency.tolist()) == {0, 1, 2, 3}, "this seed should draw every latency 0-3"
    run_and_compare(env, np.random.default_rng(0).uniform(-0.4, 0.4, (4, N, 16)))


def test_an_autoreset_primes_the_delay_with_the_new_grasp(latency_cfg):
    """After a same-step autoreset the delay line holds the new grasp's targets, not the last
    episode's: the first L substeps of the new episode hold the new grasp."""
    env = RotationEnv(dataclasses.replace(latency_cfg, episode_steps=2))
    rng = np.random.default_rng(1)
    for _ in range(2):
        _, _, term, trunc, _ = env.step(rng.uniform(-0.4, 0.4, (N, 16)))
    assert np.all(term | trunc) and np.all(env.step_count == 0), "every env restarted at step 2"
    assert len(set(env.latency.tolist())) > 1
    run_and_compare(env, rng.uniform(-0.4, 0.4, (1, N, 16)))


@pytest.mark.parametrize("latency", [0, 1, 2, 3])
def test_delay_stays_exact_over_a_whole_episode(latency):
    """The control MuJoCo applies at every one of an episode's 2400 substeps of 1/120 s is the
    one written ``latency`` substeps before; the accumulated time's rounding never shifts it."""
    spec = mujoco.MjSpec.from_string(
        '<mujoco><option timestep="0.008333333333333333"/><worldbody><body>'
        '<joint name="j"/><geom size=".1" mass="1"/></body></worldbody>'
        '<actuator><motor joint="j"/></actuator></mujoco>'
    )
    add_action_delay(spec, 3)
    model = spec.compile()
    model.actuator_delay[0] = action_delay_seconds(np.array([latency]), model.opt.timestep)[0]
    data = mujoco.MjData(model)
    applied = np.zeros(2400)
    for k in range(1, 2401):
        data.ctrl[0] = k  # the control written at substep k
        mujoco.mj_step(model, data)
        applied[k - 1] = data.actuator_force[0]  # a motor's force is the control it acted on
    wrong = np.flatnonzero(applied != np.maximum(np.arange(1, 2401) - latency, 0))
    assert len(wrong) == 0, f"{len(wrong)} of 2400 substeps applied another substep's control"


def test_bad_latency_range_is_refused(cfg):
    bad = dataclasses.replace(cfg.randomization, latency_substeps=(2, 1))
    with pytest.raises(ValueError, match="latency_substeps"):
        RotationEnv(dataclasses.replace(cfg, randomization=bad))
