"""`dexndm teleop` / `dexndm view` entry points: user errors exit cleanly; a residual file loads."""

from __future__ import annotations

import numpy as np
import torch

from dexndm.cli import main
from dexndm.hand import constants as C
from dexndm.residual.checkpoint import save_residual
from dexndm.residual.model import ResidualConfig, ResidualPolicyNet
from dexndm.sim.observations import proprio_dim
from dexndm.teleop.cli import TorchResidual, suggested_objects


def test_view_of_something_that_is_no_recording_exits_with_the_reason(tmp_path, capsys):
    assert main(["view", str(tmp_path)]) == 2
    assert "neither an episode store" in capsys.readouterr().err


def test_teleop_with_an_unknown_object_exits_with_the_reason(grasp_cache, capsys):
    argv = [
        "teleop",
        "--hand",
        "sim",
        "--object",
        "no_such_shape",
        "--grasp-cache-dir",
        grasp_cache,
        "--http-port",
        "0",
    ]
    assert main(argv) == 2
    assert "no_such_shape" in capsys.readouterr().err


def test_teleop_refuses_an_unknown_policy(capsys):
    assert main(["teleop", "--hand", "sim", "--policy", "wiggle"]) == 2
    assert "unknown policy" in capsys.readouterr().err


def test_a_residual_checkpoint_becomes_a_teleop_correction(tmp_path):
    net = ResidualPolicyNet(ResidualConfig(hidden=(8,)))
    with torch.no_grad():  # a trained-looking residual: the last layer is no longer zero
        for p in net.parameters():
            p.add_(0.1)
    path = save_residual(tmp_path / "residual.pt", net, {"base_policy": "hold"})
    residual = TorchResidual(path)
    obs = np.zeros((1, proprio_dim(10)), dtype=np.float32)
    base = C.DEFAULT_POSE[None].astype(np.float32)
    delta = residual.correct(obs, base)
    assert delta.shape == (1, C.NUM_JOINTS) and delta.dtype == np.float64
    expected = net(torch.as_tensor(obs), torch.as_tensor(base)).detach().numpy()
    np.testing.assert_allclose(delta, expected, rtol=1e-6)
    assert np.abs(delta).max() > 0 and np.abs(delta).max() <= net.config.max_correction


def test_the_page_offers_the_cube_first_and_every_shape():
    names = suggested_objects()
    assert names[0] == "cube" and "normal_cuboid/00" in names and len(set(names)) == len(names)


def test_teleop_takes_reality_like_eval_collect_and_demo():
    import tyro

    from dexndm.teleop.cli import TeleopCmd

    assert tyro.cli(TeleopCmd, args=["--reality", "my_hand.toml"]).profile == "my_hand.toml"
    assert tyro.cli(TeleopCmd, args=["--profile", "harsh"]).profile == "harsh"
