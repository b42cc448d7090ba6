"""benchmarks/task_data_store.py: the base's task episodes on a reality, stored so that the
dynamics trainers and `dexndm demo --real-data` read every step of them."""

from __future__ import annotations

import numpy as np
import pytest
import task_data_store as tds

from dexndm.data.store import EpisodeStore
from dexndm.dynamics.datasets import load_episode_arrays
from dexndm.hand.constants import NUM_JOINTS


def test_pieces_stack_whole_and_a_rerun_only_adds(tmp_path, capsys):
    args = tds.Args(
        reality="mild", episodes=2, episode_steps=50, segment=20, grasp_candidates=32,
        grasp_cache_dir=tmp_path / "grasps", out=tmp_path / "store",
    )  # fmt: skip
    tds.main(args)
    store = EpisodeStore(args.out, readonly=True)
    keys = [store.record(i).key for i in store.episode_indices()]
    assert keys and all(k.startswith("task/palm_up/00000") for k in keys)
    # every piece has the segment's length, so the trainers stack them all without cutting any
    arrays = load_episode_arrays(args.out, ("joint_pos", "joint_targets", "motor_current", "time"))
    assert arrays["joint_pos"].shape == (len(keys), 20, NUM_JOINTS)
    assert np.all(arrays["time"][:, 0] == 0) and np.all(np.diff(arrays["time"], axis=1) > 0)
    # the targets are the policy's, not a copy of the positions, and currents are in mA
    assert np.abs(arrays["joint_targets"] - arrays["joint_pos"]).max() > 1e-3
    assert np.abs(arrays["motor_current"]).max() > 1.0
    # a rerun keeps what is stored; a second range records other episodes beside them
    tds.main(args)
    assert len(EpisodeStore(args.out, readonly=True)) == len(keys)
    tds.main(tds.Args(**{**vars(args), "first_episode": 100, "episodes": 1}))
    again = EpisodeStore(args.out, readonly=True)
    new = {again.record(i).key for i in again.episode_indices()} - set(keys)
    assert new and all(k.startswith("task/palm_up/000100/") for k in new)
    assert "0 pieces of 20 steps stored this run" in capsys.readouterr().out
    # another reality into the same store would mix two hands
    with pytest.raises(SystemExit, match=r"reality: store 'mild', now 'harsh'"):
        tds.main(tds.Args(**{**vars(args), "reality": "harsh"}))


def test_with_observations_the_store_trains_a_residual_on_the_hands_own_states(tmp_path, capsys):
    from dexndm.cli import main
    from dexndm.dynamics import FitConfig
    from dexndm.dynamics.pipeline import DynamicsTrainingConfig, train_dynamics
    from dexndm.residual.rollout import observation_target_lag

    args = tds.Args(
        reality="mild", episodes=2, episode_steps=50, segment=25, grasp_candidates=32, observations=True,
        grasp_cache_dir=tmp_path / "grasps", out=tmp_path / "store",
    )  # fmt: skip
    tds.main(args)
    arrays = load_episode_arrays(args.out, ("joint_pos", "joint_targets", "proprio_obs"))
    # step t's observation is the one the base chose target t from: newest position q_t, paired with
    # the target in force before it (the sim episodes' convention, so the residual reads both alike)
    assert arrays["proprio_obs"].shape == (*arrays["joint_pos"].shape[:2], 10 * 2 * NUM_JOINTS + 7)
    newest = arrays["proprio_obs"][..., 9 * 2 * NUM_JOINTS : 9 * 2 * NUM_JOINTS + NUM_JOINTS]
    np.testing.assert_array_equal(newest, arrays["joint_pos"])
    assert observation_target_lag(arrays["proprio_obs"], arrays["joint_targets"], 10) == 1
    # a residual on these states: its references (positions and currents) must be the sim models'
    fit = FitConfig(steps=10, batch_size=32, eval_every=10, progress=False)
    train_dynamics(tmp_path / "ndm", sim_data=args.out, cfg=DynamicsTrainingConfig(window=5, hidden=(16,),
                   pretrain=fit, finetune=fit))  # fmt: skip
    cmd = [
        "train", "residual", "--dynamics", str(tmp_path / "ndm" / "dynamics.pt"), "--sim-data", str(args.out),
        "--hidden", "16", "--steps", "4", "--batch-size", "16", "--horizon", "2", "--eval-horizon", "2",
        "--eval-every", "2", "--threads", "1", "--no-progress", "--no-export",
    ]  # fmt: skip
    capsys.readouterr()
    assert main([*cmd, "--out", str(tmp_path / "r0"), "--score-against", "q-sim"]) == 2
    assert "real-hand episodes, whose positions are not the sim's" in capsys.readouterr().err
    assert main([*cmd, "--out", str(tmp_path / "r1")]) == 0
    assert "held-out real episodes" in capsys.readouterr().out


def test_a_corrected_policys_store_keeps_its_base_targets_and_the_residual_trains_on_them(tmp_path):
    """An on-policy round: the episodes of base + residual, recorded with the observation its base
    read and the base's own targets, so that the next residual corrects the base (not the base plus
    the previous correction)."""
    import torch

    from dexndm.demo import DEFAULT_BASE
    from dexndm.dynamics import FitConfig
    from dexndm.dynamics.pipeline import DynamicsTrainingConfig, train_dynamics
    from dexndm.residual.checkpoint import save_residual
    from dexndm.residual.cli import TrainResidualCmd
    from dexndm.residual.model import ResidualConfig, ResidualPolicyNet
    from dexndm.residual.rollout import observation_target_lag

    torch.manual_seed(0)
    net = ResidualPolicyNet(ResidualConfig(hidden=(16,), max_correction=0.05))
    with torch.no_grad():  # the head starts at zero (no correction); make one that is visibly there
        net.head.bias.fill_(1.0)
    policy = save_residual(tmp_path / "residual.pt", net, {"base_policy": str(DEFAULT_BASE)})
    args = tds.Args(
        reality="mild", base=str(policy), episodes=2, episode_steps=50, segment=25, grasp_candidates=32,
        observations=True, grasp_cache_dir=tmp_path / "grasps", out=tmp_path / "store",
    )  # fmt: skip
    tds.main(args)
    fields = ("joint_pos", "joint_targets", "base_targets", "proprio_obs")
    arrays = load_episode_arrays(args.out, fields)
    sent, base = arrays["joint_targets"], arrays["base_targets"]
    # the sent targets carry the correction, the base's do not; the observations hold the base's
    assert np.abs(sent - base).mean() > 1e-3
    assert observation_target_lag(arrays["proprio_obs"], base, 10) == 1

    fit = FitConfig(steps=10, batch_size=32, eval_every=10, progress=False)
    train_dynamics(tmp_path / "ndm", sim_data=args.out, cfg=DynamicsTrainingConfig(window=5, hidden=(16,),
                   pretrain=fit, finetune=fit))  # fmt: skip
    inputs = TrainResidualCmd(dynamics=tmp_path / "ndm" / "dynamics.pt", sim_data=args.out).inputs()
    np.testing.assert_array_equal(inputs.train.windows.joint_targets.numpy(), base)
