"""`dexndm train delta-action` on a collected store, and the result in the training env's loop."""

from __future__ import annotations

import json

import numpy as np

from dexndm.cli import main


def test_delta_action_from_collected_free_hand_data_runs_in_the_env(tmp_path, grasp_cache):
    data = tmp_path / "free"
    collect = [
        "collect", "--hand", "sim", "--reality", "harsh", "--mode", "free", "--source", "random",
        "--episodes", "3", "--wrist", "palm_up", "--steps", "40", "--settle-s", "0.2", "--out", str(data),
        "--no-progress", "--replay.num-envs", "2", "--replay.grasp-candidates", "32",
        "--replay.grasp-cache-dir", grasp_cache,
    ]  # fmt: skip
    assert main(collect) == 0
    out = tmp_path / "uan"
    argv = ["train", "delta-action", "--structure", "joint", "--real-data", str(data), "--out", str(out),
            "--sim-fit-steps", "200", "--steps", "60", "--eval-every", "30", "--eval-fraction", "0.34",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    meta = json.loads((out / "delta_action.pt.json").read_text())
    assert meta["extra"]["kind"] == "delta_action" and meta["residual_config"]["structure"] == "joint"
    assert (out / "sim_model.pt").exists()  # the sim's response to the same targets, fitted here

    from dexndm.sim.config import EnvConfig, RandomizationConfig
    from dexndm.sim.env import RotationEnv
    from dexndm.sim.grasp import GraspConfig

    cfg = EnvConfig(
        num_envs=2, objects=("cube",), grasp=GraspConfig(candidates=32), grasp_cache_dir=grasp_cache,
        randomization=RandomizationConfig.none(), delta_action=str(out / "delta_action.pt"), nthread=1,
    )  # fmt: skip
    env = RotationEnv(cfg)
    try:
        env.reset()
        for _ in range(3):
            obs, *_ = env.step(np.zeros((2, 16)))
        assert np.all(np.isfinite(obs["proprio"]))
    finally:
        env.close()
    # a residual policy file is not a delta-action model: refused when the env is built
    import dataclasses

    import pytest

    from dexndm.residual.checkpoint import save_residual
    from dexndm.residual.model import ResidualPolicyNet

    residual = save_residual(tmp_path / "residual.pt", ResidualPolicyNet(), {"base_policy": "x"})
    with pytest.raises(ValueError, match="not a delta-action model"):
        RotationEnv(dataclasses.replace(cfg, delta_action=str(residual)))
