"""Watch a policy: MP4 of one episode, a still frame, or the interactive viewer.

Headless machines render offscreen with ``MUJOCO_GL=egl`` (GPU) or ``MUJOCO_GL=osmesa`` (CPU,
needs libosmesa6), read by MuJoCo when it is first imported; if this module imports MuJoCo first,
on a machine without a display and with no choice made, it picks OSMesa. Example::

    from dexndm.eval.policies import load_policy
    from dexndm.sim.render import render_episode
    render_episode(load_policy("hold"), object="cube", wrist="palm_down", axis="+z", steps=100,
                   out_path="hold.mp4")

The default camera is a free camera aimed at the grasp centre (``WRIST_POS``) from a fixed distance
and direction in the world, so the hand and object are in view at any wrist orientation; the
scene's named cameras (``"side"``) can be used instead.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def has_display() -> bool:
    """Whether an interactive window can open (an X11 / Wayland display, or not Linux)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


# MuJoCo reads MUJOCO_GL once, at its first import, and its default (GLFW) needs a window system.
# On a headless Linux machine with no choice made, pick OSMesa (CPU, works anywhere libosmesa6
# is installed); set MUJOCO_GL=egl yourself on a GPU machine for speed.
if (
    "mujoco" not in sys.modules
    and not os.environ.get("MUJOCO_GL")
    and not has_display()
    and ctypes.util.find_library("OSMesa")
):
    os.environ["MUJOCO_GL"] = "osmesa"

import mujoco  # noqa: E402  (after the backend choice above)
import numpy as np  # noqa: E402

from dexndm.eval.policies import HoldPolicy, Policy, policy_view, reset_policy  # noqa: E402
from dexndm.hand import constants as C  # noqa: E402
from dexndm.sim.config import EnvConfig, HandoverConfig, RandomizationConfig  # noqa: E402
from dexndm.sim.env import RotationEnv  # noqa: E402
from dexndm.sim.grasp import GraspConfig  # noqa: E402
from dexndm.sim.scene import WRIST_POS, PhysicsConfig  # noqa: E402

FREE_CAMERA = "free"


@dataclass(frozen=True)
class FreeCamera:
    """A camera aimed at ``lookat`` from ``distance`` m, at fixed world angles (degrees)."""

    lookat: tuple[float, float, float] = tuple(WRIST_POS)
    """The grasp centre: the object sits there and the hand reaches ~0.15 m around it."""
    distance: float = 0.4
    azimuth: float = 135.0
    elevation: float = -25.0

    def mjv_camera(self) -> mujoco.MjvCamera:
        cam = mujoco.MjvCamera()
        cam.type = mujoco.mjtCamera.mjCAMERA_FREE
        cam.lookat[:] = self.lookat
        cam.distance = self.distance
        cam.azimuth = self.azimuth
        cam.elevation = self.elevation
        return cam


def _env(
    object: str, wrist: str, axis: str, seed: int, episode_steps: int,
    randomization: RandomizationConfig | None, physics: PhysicsConfig | None,
    grasp: GraspConfig | None, grasp_cache_dir: str | Path | None, open_hand: bool = False,
) -> RotationEnv:  # fmt: skip
    return RotationEnv(
        EnvConfig(
            num_envs=1,
            objects=(object,),
            wrists=(wrist,),
            axes=(axis,),
            episode_steps=episode_steps,
            seed=seed,
            nthread=1,
            randomization=RandomizationConfig.none() if randomization is None else randomization,
            physics=PhysicsConfig() if physics is None else physics,
            grasp=GraspConfig() if grasp is None else grasp,
            handover=HandoverConfig(prob=1.0 if open_hand else 0.0),
            grasp_cache_dir=None if grasp_cache_dir is None else str(grasp_cache_dir),
        )  # fmt: skip
    )


def _camera(camera: str | FreeCamera, model: mujoco.MjModel) -> mujoco.MjvCamera | str:
    if isinstance(camera, FreeCamera):
        return camera.mjv_camera()
    if camera == FREE_CAMERA:
        return FreeCamera().mjv_camera()
    if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera) < 0:
        names = [model.camera(i).name for i in range(model.ncam)]
        raise ValueError(f"unknown camera {camera!r}: use {FREE_CAMERA!r}, a FreeCamera or one of {names}")
    return camera


def _renderer(model: mujoco.MjModel, width: int, height: int, shadows: bool | None) -> mujoco.Renderer:
    """A renderer; ``shadows=None`` turns them off under OSMesa, where they cost 5-10x per frame."""
    try:
        renderer = mujoco.Renderer(model, height=height, width=width)
    except (mujoco.FatalError, RuntimeError, ImportError, AttributeError) as e:
        backend = os.environ.get("MUJOCO_GL") or "glfw (the default)"
        raise RuntimeError(
            f"cannot create an offscreen OpenGL context with MUJOCO_GL={backend} ({e}). On a headless "
            "machine start Python with MUJOCO_GL=osmesa (CPU; apt install libosmesa6) or MUJOCO_GL=egl "
            "(GPU); MuJoCo reads it only when first imported."
        ) from e
    if shadows is None:
        shadows = os.environ.get("MUJOCO_GL", "").lower() != "osmesa"
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = shadows
    return renderer


def _policy_step(env: RotationEnv, policy: Policy, obs: dict[str, np.ndarray]) -> tuple[dict, bool]:
    """One control step; returns the next observation and whether the episode ended (autoreset)."""
    view = policy_view(policy, obs)
    actions = np.asarray(policy.act(view), dtype=np.float64).reshape(1, C.NUM_JOINTS)
    obs, _, terminated, truncated, info = env.step(actions)
    ended = bool(terminated[0] or truncated[0])
    if ended:
        reset_policy(policy, info["final_env_ids"])
    return obs, ended


def render_episode(
    policy: Policy | None = None,
    *,
    object: str = "cube",
    wrist: str = "palm_up",
    axis: str = "+z",
    steps: int = 400,
    out_path: Path | str,
    width: int = 640,
    height: int = 480,
    camera: str | FreeCamera = FREE_CAMERA,
    fps: int = 20,
    seed: int = 0,
    stop_on_drop: bool = True,
    shadows: bool | None = None,
    randomization: RandomizationConfig | None = None,
    physics: PhysicsConfig | None = None,
    grasp: GraspConfig | None = None,
    grasp_cache_dir: str | Path | None = None,
    open_hand: bool = False,
) -> Path:
    """Write an MP4 of ``policy`` turning ``object`` for ``steps`` control steps.

    Frames: the initial grasp, then one per control step (``steps + 1`` in all); at ``fps=20``
    the video plays in real time. The env is reset (same-step autoreset) when the object drops;
    the frame after a drop would show the *next* episode's grasp, so with ``stop_on_drop`` the
    video ends at the last frame before the drop (fewer frames), otherwise it runs on into the
    next episode.

    Args:
        policy: default ``HoldPolicy``.
        object, wrist, axis: one name each (``EnvConfig`` syntax; quaternion / vector strings work).
        camera: ``"free"`` (default, see ``FreeCamera``), a ``FreeCamera``, or a scene camera name.
        fps: frames per second of the video.
        shadows: None: on, except under ``MUJOCO_GL=osmesa`` (software rendering).
        open_hand: start from an open hand, the object held until ``HandoverConfig.hold_steps``
            (the policy must grasp it).
    Returns:
        ``out_path``.
    """
    import imageio.v2 as imageio

    policy = HoldPolicy() if policy is None else policy
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # one step more than the video: the time-out autoreset would otherwise replace the last frame
    env = _env(
        object, wrist, axis, seed, steps + 1, randomization, physics, grasp, grasp_cache_dir, open_hand
    )
    renderer = None
    writer = None
    try:
        model, data = env.mj_model_data(0)
        renderer = _renderer(model, width, height, shadows)
        cam = _camera(camera, model)
        # macro_block_size=1: any width/height, not only multiples of 16
        writer = imageio.get_writer(out_path, fps=fps, codec="libx264", quality=8, macro_block_size=1)
        reset_policy(policy, np.arange(1))
        obs = env.observations()
        renderer.update_scene(data, camera=cam)
        writer.append_data(renderer.render())
        for _ in range(steps):
            obs, ended = _policy_step(env, policy, obs)
            if ended and stop_on_drop:
                break
            _, data = env.mj_model_data(0)
            renderer.update_scene(data, camera=cam)
            writer.append_data(renderer.render())
    finally:
        if writer is not None:
            writer.close()
        if renderer is not None:
            renderer.close()
        env.close()
    return out_path


def render_frame(
    policy: Policy | None = None,
    *,
    object: str = "cube",
    wrist: str = "palm_up",
    axis: str = "+z",
    steps: int = 0,
    out_path: Path | str | None = None,
    width: int = 640,
    height: int = 480,
    camera: str | FreeCamera = FREE_CAMERA,
    seed: int = 0,
    shadows: bool | None = None,
    randomization: RandomizationConfig | None = None,
    physics: PhysicsConfig | None = None,
    grasp: GraspConfig | None = None,
    grasp_cache_dir: str | Path | None = None,
) -> np.ndarray:
    """One image after ``steps`` control steps of ``policy`` (0: the initial grasp).

    If the object drops on the way, the env autoresets and the image shows the new episode.

    Returns:
        (height, width, 3) uint8 RGB; also written as PNG to ``out_path`` when given.
    """
    policy = HoldPolicy() if policy is None else policy
    env = _env(object, wrist, axis, seed, steps + 1, randomization, physics, grasp, grasp_cache_dir)
    renderer = None
    try:
        obs = env.observations()
        reset_policy(policy, np.arange(1))
        for _ in range(steps):
            obs, _ = _policy_step(env, policy, obs)
        model, data = env.mj_model_data(0)
        renderer = _renderer(model, width, height, shadows)
        renderer.update_scene(data, camera=_camera(camera, model))
        image = renderer.render().copy()
    finally:
        if renderer is not None:
            renderer.close()
        env.close()
    if out_path is not None:
        import imageio.v2 as imageio

        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        imageio.imwrite(out_path, image)
    return image


def view_interactive(
    policy: Policy | None = None,
    *,
    object: str = "cube",
    wrist: str = "palm_up",
    axis: str = "+z",
    seed: int = 0,
    episode_steps: int = 400,
    randomization: RandomizationConfig | None = None,
    physics: PhysicsConfig | None = None,
    grasp: GraspConfig | None = None,
    grasp_cache_dir: str | Path | None = None,
) -> None:
    """Run ``policy`` in MuJoCo's passive viewer, in real time, until the window is closed.

    Episodes restart when the object drops or after ``episode_steps``.

    Raises:
        RuntimeError: no display (use ``render_episode`` to write an MP4 instead).
    """
    if not has_display():
        raise RuntimeError(
            "no display (DISPLAY is not set): the interactive viewer needs a screen. On a headless "
            "machine write a video instead: MUJOCO_GL=osmesa (or egl) and "
            "dexndm.sim.render.render_episode(policy, ..., out_path=Path('episode.mp4'))"
        )
    import mujoco.viewer

    policy = HoldPolicy() if policy is None else policy
    env = _env(object, wrist, axis, seed, episode_steps, randomization, physics, grasp, grasp_cache_dir)
    try:
        model, data = env.mj_model_data(0)
        obs = env.observations()
        reset_policy(policy, np.arange(1))
        with mujoco.viewer.launch_passive(model, data) as viewer:
            viewer.cam.type = mujoco.mjtCamera.mjCAMERA_FREE
            viewer.cam.lookat[:] = FreeCamera().lookat
            viewer.cam.distance = FreeCamera().distance
            while viewer.is_running():
                t0 = time.perf_counter()
                obs, _ = _policy_step(env, policy, obs)
                _, fresh = env.mj_model_data(0)
                with viewer.lock():
                    # the viewer keeps its own MjData: copy the new state into it
                    data.qpos[:] = fresh.qpos
                    data.qvel[:] = fresh.qvel
                    data.mocap_pos[:] = fresh.mocap_pos
                    data.mocap_quat[:] = fresh.mocap_quat
                    mujoco.mj_forward(model, data)
                viewer.sync()
                time.sleep(max(0.0, C.CONTROL_DT - (time.perf_counter() - t0)))
    finally:
        env.close()
