"""The batched rotation env: shapes, determinism, actions, episode ends, grasps that hold."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dexndm.hand import constants as C
from dexndm.sim.config import RandomizationConfig
from dexndm.sim.env import RotationEnv
from dexndm.sim.rewards import rotp_weight
from dexndm.sim.rotations import quat_conj, quat_mul, quat_rotate_inv
from dexndm.sim.scene import WRIST_POS
from dexndm.sim.wrists_axes import parse_wrist


def test_shapes_and_finite(cfg):
    env = RotationEnv(cfg)
    obs = env.reset()
    assert obs["proprio"].shape == (6, 10 * 32 + 7)
    assert obs["privileged"].shape == (6, env.privileged_dim)
    rng = np.random.default_rng(0)
    for _ in range(20):
        obs, rew, term, trunc, info = env.step(rng.uniform(-1, 1, (6, 16)))
        assert rew.shape == (6,) and term.dtype == bool and trunc.dtype == bool
        assert all(np.all(np.isfinite(v)) for v in obs.values())
        assert np.all(np.isfinite(rew))


def test_same_seed_same_trajectory(cfg):
    """Domain randomization on (latency, pushes, masses...) and resets within the run."""
    actions = np.random.default_rng(1).uniform(-1, 1, (15, 6, 16))

    def run(reseed: int | None = None) -> np.ndarray:
        env = RotationEnv(dataclasses.replace(cfg, episode_steps=4))
        if reseed is not None:  # another random stream on the same task (a new seed would
            env.reseed(reseed)  # search grasps again: seconds)
            env.reset()
        return np.stack([env.step(a)[0]["privileged"] for a in actions])

    a, b, c = run(), run(), run(reseed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_relative_actions_are_scaled_and_clamped(cfg):
    env = RotationEnv(dataclasses.replace(cfg, randomization=RandomizationConfig.none()))
    env.autoreset = False  # an episode that ends would reset its targets to a new grasp's
    before = env.targets.copy()
    env.step(np.full((6, 16), 0.5))
    np.testing.assert_allclose(env.targets, np.clip(before + 0.5 / 24, C.JOINT_LOWER, C.JOINT_UPPER))
    for _ in range(80):
        env.step(np.full((6, 16), 3.0))  # out-of-range actions are clipped to 1, targets to the limits
    assert np.all(env.targets <= C.JOINT_UPPER + 1e-12)
    with pytest.raises(ValueError, match="finite"):
        env.step(np.full((6, 16), np.nan))


def test_time_out_autoresets_same_step(cfg):
    env = RotationEnv(dataclasses.replace(cfg, episode_steps=5, randomization=RandomizationConfig.none()))
    fell = np.zeros(6, dtype=bool)
    for _ in range(5):
        obs, rew, term, trunc, info = env.step(np.zeros((6, 16)))
        fell |= term
    survived = ~fell
    assert survived.sum() >= 4
    assert np.all(trunc[survived]) and not np.any(trunc & term)
    ttf = info["final_metrics"]["ttf"]
    np.testing.assert_allclose(ttf[trunc[info["final_env_ids"]]], 1.0)
    assert np.all(env.step_count[survived] == 0)  # they started a new episode on the same step
    # the returned observation is the new episode's first one: its history is constant
    q_hist = obs["proprio"][survived, : 10 * 32].reshape(-1, 10, 32)[:, :, :16]
    assert np.allclose(q_hist, q_hist[:, :1], atol=0.006)


def test_cached_grasps_hold_palm_up_and_down(cfg):
    """With the grasp targets held and no randomization, the object stays for 2 s."""
    env = RotationEnv(dataclasses.replace(cfg, num_envs=8, randomization=RandomizationConfig.none()))
    fell = np.zeros(8, dtype=bool)
    for _ in range(40):
        _, _, term, _, _ = env.step(np.zeros((8, 16)))
        fell |= term
    assert fell.mean() <= 0.25, f"{fell.sum()} of 8 held grasps dropped the object"


def test_opening_the_hand_palm_down_drops_the_object(cfg):
    env = RotationEnv(
        dataclasses.replace(cfg, wrists=("palm_down",), randomization=RandomizationConfig.none())
    )
    ended = np.zeros(6, dtype=bool)
    for _ in range(40):
        _, _, term, _, info = env.step(np.full((6, 16), -1.0))
        ended |= term
    assert ended.all(), "palm down with the fingers opening, every object must fall"


def test_wrist_orientation_sets_gravity_in_hand_frame(cfg):
    env = RotationEnv(dataclasses.replace(cfg, wrists=("palm_down",)))
    g_hand = quat_rotate_inv(env.wrist_quat, np.tile([0.0, 0.0, -1.0], (6, 1)))
    np.testing.assert_allclose(g_hand, np.tile([0.0, 0.0, 1.0], (6, 1)), atol=1e-9)  # palm faces the floor
    model, data = env.mj_model_data(0)
    np.testing.assert_allclose(data.mocap_quat[0], env.wrist_quat[0])


def test_task_distribution_restricts_what_resets_draw(cfg):
    env = RotationEnv(dataclasses.replace(cfg, num_envs=8, episode_steps=1))
    assert len({tuple(q) for q in env.wrist_quat}) == 2, "both configured wrists drawn at first"
    before = env.wrist_quat.copy()
    env.set_task_distribution(("palm_down",), ("+x", "-y"))
    np.testing.assert_array_equal(env.wrist_quat, before)  # running episodes are not touched
    wrists, axes = [], []
    for _ in range(4):  # every episode is one step: each step resets all 8 envs
        env.step(np.zeros((8, 16)))
        wrists.append(env.wrist_quat.copy())
        axes.append(env.axis.copy())
    np.testing.assert_allclose(np.concatenate(wrists), np.tile(parse_wrist("palm_down"), (32, 1)))
    drawn = {tuple(a) for a in np.concatenate(axes).round(9)}
    assert drawn == {(1.0, 0.0, 0.0), (0.0, -1.0, 0.0)}
    # gravity in the hand frame follows the new wrist: palm down, it points out of the palm
    g_hand = env.observations()["privileged"][:, -(5 + 1 + 3) : -(5 + 1)]
    np.testing.assert_allclose(g_hand, np.tile([0.0, 0.0, 1.0], (8, 1)), atol=1e-6)

    env.set_task_distribution(("palm_up", "palm_down"), ("random",))
    env.step(np.zeros((8, 16)))
    np.testing.assert_allclose(np.linalg.norm(env.axis, axis=-1), 1.0)
    assert len({tuple(a) for a in env.axis.round(9)}) == 8, "random axes: all different"


def test_task_distribution_weights_a_repeated_wrist(cfg):
    env = RotationEnv(dataclasses.replace(cfg, num_envs=64, episode_steps=1))
    env.set_task_distribution(("palm_up", "palm_up", "palm_up", "palm_down"), ("+z",))
    up = []
    for _ in range(8):  # 512 resets
        env.step(np.zeros((64, 16)))
        up.append(np.isclose(env.wrist_quat[:, 0], 1.0))
    share = float(np.mean(up))
    assert 0.68 < share < 0.82, f"palm up listed 3 of 4 times should be drawn ~75%, got {share:.2f}"


def test_task_distribution_refuses_a_wrist_without_grasps(cfg):
    env = RotationEnv(dataclasses.replace(cfg, num_envs=2))
    with pytest.raises(ValueError, match="not among the env's wrists.*EnvConfig.wrists"):
        env.set_task_distribution(("thumb_up",), ("+z",))
    with pytest.raises(ValueError, match="not among"):
        env.set_task_distribution(("all",), ("+z",))  # four of the six have no grasps here


def test_privileged_observation_layout(cfg):
    """Each privileged term sits where the docstring says, in the hand frame (computed here term
    by term with quaternions, against the env's one-matmul assembly)."""
    env = RotationEnv(cfg)
    for a in np.random.default_rng(2).uniform(-0.5, 0.5, (3, 6, 16)):
        obs = env.step(a)[0]
    wq, inv = env.wrist_quat, quat_conj(env.wrist_quat)
    n = env.num_envs
    tips = quat_rotate_inv(np.repeat(wq, 4, axis=0), env.tips.reshape(n * 4, 3) - WRIST_POS).reshape(n, 12)
    want = np.concatenate(
        [
            quat_rotate_inv(wq, env.obj_pos - WRIST_POS), quat_mul(inv, env.obj_quat),
            quat_rotate_inv(wq, env.obj_vel), quat_rotate_inv(wq, env.omega), tips,
            env.touch > 1e-3, np.minimum(env.touch, 5.0), env.qdot, env.torque,
            quat_mul(inv, env.goal_quat), quat_rotate_inv(wq, env.axis),
            quat_rotate_inv(wq, np.tile([0.0, 0.0, -1.0], (n, 1))),
            rotp_weight(env.resets, cfg.reward)[:, None], env.phys,
        ],
        axis=-1,
    )  # fmt: skip
    assert obs["privileged"].shape == (n, env.obs_dim + want.shape[1])
    np.testing.assert_array_equal(obs["privileged"][:, : env.obs_dim], obs["proprio"])
    np.testing.assert_allclose(obs["privileged"][:, env.obs_dim :], want, rtol=1e-6, atol=1e-6)


def test_object_groups_map_envs_to_their_own_simulations(cfg):
    """Two shapes: two batches; every env's state, targets and resets go through its own group."""
    env = RotationEnv(
        dataclasses.replace(cfg, num_envs=5, objects=("cube", "normal_cylinder/00"), wrists=("palm_up",),
                            episode_steps=3)
    )  # fmt: skip
    assert len(env.groups) == 2 and sorted(np.concatenate([g.env_ids for g in env.groups])) == list(range(5))
    rng = np.random.default_rng(3)
    for _ in range(7):  # two autoresets of every env on the way
        env.step(rng.uniform(-0.3, 0.3, (5, 16)))
        for g, grp in enumerate(env.groups):
            slots = env.slot_of[grp.env_ids]
            assert np.all(env.group_of[grp.env_ids] == g)
            np.testing.assert_array_equal(env.q[grp.env_ids], grp.sim.bind("qpos")[slots, :16])
            np.testing.assert_array_equal(env.targets[grp.env_ids], grp.sim.bind("ctrl")[slots])
    assert np.all(env.resets >= 3)


@pytest.mark.parametrize("draw", [0.3, 1.5])
def test_friction_draws_set_the_contact_pair_below_the_hands_own(cfg, draw):
    """MuJoCo takes the larger of two geoms' coefficients: a draw below the fingertips' 0.7 must
    still be what a fingertip-object contact gets; a draw above it leaves the hand as built."""
    dr = dataclasses.replace(RandomizationConfig.none(), friction=(draw, draw))
    env = RotationEnv(dataclasses.replace(cfg, randomization=dr))
    env.reset()
    grp = env.groups[0]
    lay, model = grp.layout, grp.model
    names = {model.geom(int(g)).name for g in lay.hand_geoms}
    assert {model.geom(int(g)).name for g in lay.fingertip_geoms} <= names
    assert not set(lay.object_geoms) & set(lay.hand_geoms)
    friction = grp.sim.expand("geom_friction")[env.slot_of[grp.env_ids]][..., 0]
    obj = friction[:, lay.object_geoms]
    tips = friction[:, lay.fingertip_geoms]
    np.testing.assert_allclose(obj, draw)
    pair = np.maximum(tips[:, :, None], obj[:, None, :])  # what mj_collision hands a tip contact
    np.testing.assert_allclose(pair, draw)
    if draw > 0.7:
        built = model.geom_friction[lay.fingertip_geoms, 0]
        np.testing.assert_allclose(tips, np.broadcast_to(built, tips.shape))


def test_object_scale_draws_rescale_a_user_mesh(cfg, tmp_path):
    """Scale randomization works on the object spec: a user mesh (named after its file stem,
    which is no path) is rescaled like a built-in shape, mass with its volume."""
    trimesh = pytest.importorskip("trimesh")
    mesh_path = tmp_path / "block_mm.stl"
    trimesh.creation.box(extents=[60.0, 50.0, 40.0]).export(mesh_path)  # millimetres, as CAD exports
    dr = dataclasses.replace(RandomizationConfig.none(), object_scale=(0.9, 0.9))
    env = RotationEnv(
        dataclasses.replace(cfg, objects=(str(mesh_path),), wrists=("palm_up",), randomization=dr)
    )
    obj = env.groups[0].obj
    assert obj.name == "block_mm" and obj.extents().max() == pytest.approx(0.054)
    assert obj.mass == pytest.approx(150 * 0.06 * 0.05 * 0.04 * 0.9**3, rel=1e-6)
