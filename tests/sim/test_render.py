"""Offscreen rendering: an MP4 with one frame per control step, showing the hand; stills; viewer."""

from __future__ import annotations

import ctypes.util
import os

import numpy as np
import pytest

from dexndm.eval.policies import HoldPolicy
from dexndm.sim.grasp import GraspConfig

# tests/conftest.py sets MUJOCO_GL=osmesa before mujoco is imported, unless the user chose a backend
pytestmark = pytest.mark.skipif(
    os.environ.get("MUJOCO_GL", "").lower() == "osmesa" and ctypes.util.find_library("OSMesa") is None,
    reason="OSMesa is missing (apt install libosmesa6), so MUJOCO_GL=osmesa cannot render offscreen; "
    "on a GPU machine run with MUJOCO_GL=egl",
)

TINY = dict(grasp=GraspConfig(candidates=32), width=160, height=120)


def _frame_variance_ok(frame: np.ndarray) -> bool:
    # a black (or any single-colour) frame has ~0 variance; the grey hand and orange cube do not
    return float(frame.astype(np.float64).std()) > 5.0


def test_render_episode_writes_one_frame_per_step(tmp_path, grasp_cache):
    import imageio.v3 as iio

    from dexndm.sim.render import render_episode

    steps = 8
    path = render_episode(HoldPolicy(), wrist="palm_down", steps=steps, out_path=tmp_path / "ep.mp4",
                          grasp_cache_dir=grasp_cache, **TINY)  # fmt: skip
    frames = iio.imread(path)
    assert frames.shape == (steps + 1, 120, 160, 3)  # the initial grasp + one per control step
    assert all(_frame_variance_ok(f) for f in frames)


def test_render_frame_png(tmp_path, grasp_cache):
    import imageio.v3 as iio

    from dexndm.sim.render import render_frame

    image = render_frame(out_path=tmp_path / "still.png", grasp_cache_dir=grasp_cache, camera="side", **TINY)
    assert image.shape == (120, 160, 3) and image.dtype == np.uint8 and _frame_variance_ok(image)
    np.testing.assert_array_equal(iio.imread(tmp_path / "still.png"), image)
    with pytest.raises(ValueError, match="unknown camera 'top'"):
        render_frame(grasp_cache_dir=grasp_cache, camera="top", **TINY)


def test_view_interactive_without_display_says_use_render(monkeypatch):
    from dexndm.sim import render

    monkeypatch.setattr(render.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(RuntimeError, match="render_episode"):
        render.view_interactive(HoldPolicy())


def test_render_stops_at_the_drop(tmp_path, grasp_cache):
    """The frame after a drop would show the next episode's grasp: the video ends before it."""
    import imageio.v3 as iio

    from dexndm.sim.render import _env, render_episode

    class OpenHand:
        """Opens every joint at full speed: palm down, the cube falls out within a second."""

        def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
            return -np.ones((len(obs["proprio"]), 16))

    steps, seed = 60, 0
    env = _env("cube", "palm_down", "+z", seed, steps + 1, None, None, TINY["grasp"], grasp_cache)
    obs = env.observations()
    drop_step, terminated = 0, [False]
    while not terminated[0] and drop_step < steps:
        obs, _, terminated, _, _ = env.step(OpenHand().act(obs))
        drop_step += 1
    assert terminated[0] and drop_step < steps, "an opening hand should drop the cube within 60 steps"
    path = render_episode(OpenHand(), wrist="palm_down", steps=steps, seed=seed,
                          out_path=tmp_path / "drop.mp4", grasp_cache_dir=grasp_cache, **TINY)  # fmt: skip
    assert len(iio.imread(path)) == drop_step  # the initial frame + the steps before the drop
