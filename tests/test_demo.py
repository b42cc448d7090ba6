"""``dexndm demo`` end to end at tiny scale: every stage runs and the outputs say what happened."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dexndm.cli import main
from dexndm.policy.generalist import save_generalist
from dexndm.policy.networks import ResidualMLP, ResidualMLPConfig


@pytest.fixture(scope="module")
def demo_run(grasp_cache, tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    torch.manual_seed(0)
    base = save_generalist(root / "generalist.pt", ResidualMLP(ResidualMLPConfig(width=16, blocks=1)), 10, {})
    args = [
        "demo", "--out", str(root / "out"), "--base", str(base), "--objects", "cube", "--episode-steps", "24",
        "--sim-episodes", "4", "--real-episodes", "2", "--pretrain-steps", "20", "--finetune-steps", "10",
        "--residual-steps", "6", "--max-correction", "0.02", "--drive-weight", "5", "--eval-episodes", "2",
        "--video-steps", "3", "--grasp-candidates", "48", "--grasp-cache-dir", grasp_cache, "--no-progress",
    ]  # fmt: skip
    assert main(args) == 0
    return root / "out"


def test_demo_runs_every_stage_and_reports_the_three_policies(demo_run, capsys):
    summary = json.loads((demo_run / "summary.json").read_text())
    assert set(summary["results"]) == {"sim", "direct", "dexndm"}
    for row in summary["results"].values():
        assert row["episodes"] == 2
        assert 0.0 < row["ttf_s"] <= 24 * 0.05 + 1e-9  # episodes of 24 steps at 20 Hz
        assert np.isfinite(row["rot"])
    assert set(summary["stages_s"]) >= {"sim episodes", "collect", "dynamics", "residual", "video"}
    # the stages left their artifacts where the pipeline's own commands put them
    for path in ("sim/manifest.jsonl", "real/manifest.jsonl", "ndm/dynamics.pt", "residual/residual.pt"):
        assert (demo_run / path).exists(), path
    assert summary["config"]["reality"] == "default"
    # the residual's bound reaches the residual
    sidecar = json.loads((demo_run / "residual" / "residual.pt.json").read_text())
    assert sidecar["residual_config"]["max_correction"] == 0.02
    # --drive-weight: a drive model fitted on the collected episodes, in the residual's objective
    assert "drive" in summary["stages_s"] and (demo_run / "drive" / "drive.pt").exists()
    assert sidecar["extra"]["drive"]["weight"] == 5


def test_demo_writes_a_plot_and_a_side_by_side_video(demo_run):
    import imageio.v3 as iio

    assert (demo_run / "demo.png").stat().st_size > 1000
    frames = iio.imread(demo_run / "side_by_side.mp4")
    # the reset frame and one per control step; the two episodes side by side
    assert frames.shape[0] == 4 and frames.shape[2] == 800


def test_demo_fits_on_a_given_chaos_box_store_without_collecting(demo_run, grasp_cache, tmp_path, capsys):
    base = demo_run.parent / "generalist.pt"
    common = [
        "demo", "--base", str(base), "--objects", "cube", "--episode-steps", "24", "--sim-episodes", "4",
        "--pretrain-steps", "20", "--finetune-steps", "10", "--residual-steps", "6", "--eval-episodes", "2",
        "--video-steps", "0", "--grasp-candidates", "48", "--grasp-cache-dir", grasp_cache, "--no-progress",
    ]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "bad"), "--real-data", str(tmp_path / "nowhere")]) != 0
    assert "not a Chaos Box store" in capsys.readouterr().err
    assert main([*common, "--out", str(tmp_path / "out"), "--real-data", str(demo_run / "real")]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "collect" not in summary["stages_s"] and not (tmp_path / "out" / "real").exists()
    assert (tmp_path / "out" / "ndm" / "dynamics.pt").exists()
