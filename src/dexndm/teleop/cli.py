"""``dexndm teleop`` and ``dexndm view``: the browser page for driving and for watching the hand.

Examples::

    dexndm teleop                                   # SimulatedReality (default profile), open the URL
    dexndm teleop --policy runs/generalist/latest.pt --residual runs/residual/residual.pt
    dexndm teleop --hand sim --object normal_cuboid/03 --wrist palm_down --axis +x
    dexndm teleop --hand leap --port /dev/ttyUSB0 --policy runs/generalist/latest.pt
    dexndm teleop --host 0.0.0.0                    # let a tablet on the network reach it
    dexndm view out/collect/store --episode 3       # replay a stored episode
    dexndm view out/demo/eval/random --cell 4 --episode 1   # simulate an evaluation episode again
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from dexndm.teleop import DEFAULT_HOST, DEFAULT_PORT

log = logging.getLogger(__name__)


def _stop_on_sigterm() -> None:
    """Let SIGTERM (a service manager, ``kill``) end the server like Ctrl-C: the ``finally`` blocks
    then stop the control loop and release the hand instead of dying with torque on."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def suggested_objects() -> list[str]:
    """The object names the page offers: the cube and every train and test shape."""
    from dexndm.objects.registry import object_names

    return ["cube", *(n for n in object_names("all") if n != "cube")]


class TorchResidual:
    """A trained residual network (``dexndm.residual``) as a teleop correction (numpy in and out)."""

    def __init__(self, path: Path):
        import torch

        from dexndm.residual.checkpoint import load_residual

        self._torch = torch
        self.net, self.extra = load_residual(path)
        self.net.eval()
        self.path = path

    def correct(self, obs: Any, base_targets: Any) -> Any:
        torch = self._torch
        with torch.no_grad():
            out = self.net(
                torch.as_tensor(obs, dtype=torch.float32), torch.as_tensor(base_targets, dtype=torch.float32)
            )
        return out.numpy().astype("float64")

    def __repr__(self) -> str:
        return f"TorchResidual({self.path})"


@dataclass
class TeleopCmd:
    """Serve the teleoperation page: choose wrist and axis, the policy does the fingers (20 Hz)."""

    hand: Literal["simulated", "sim", "leap"] = "simulated"
    """simulated: SimulatedReality (reality-gap profile); sim: the training simulator; leap: the
    physical LEAP hand over Dynamixel."""
    policy: str = "hold"
    """The proprioceptive policy: a generalist checkpoint, or 'hold' / 'random'."""
    residual: Path | None = None
    """A residual policy checkpoint; its toggle on the page is off until one is given."""
    object: str = "cube"
    wrist: str = "palm_up"
    axis: str = "+z"
    # also --reality, the spelling of eval, collect and demo
    profile: Annotated[str, tyro.conf.arg(aliases=("--reality",))] = "default"
    """SimulatedReality's gap profile: mild, default, harsh or a TOML path."""
    port: str = "/dev/ttyUSB0"
    """The LEAP hand's serial port (--hand leap)."""
    host: str = DEFAULT_HOST
    """Interface to serve on; 127.0.0.1 keeps the hand to this machine."""
    http_port: int = DEFAULT_PORT
    grasp_cache_dir: Path | None = None
    seed: int = 0
    start: Literal["open", "grasp"] = "open"
    """open: each grasp starts from an open hand, the object held where it will be grasped until
    the policy has closed the hand (on the physical hand a person holds it and lets go); grasp:
    start from a cached grasp, with the object already in the fingers."""

    def run(self) -> int:
        from dexndm.eval.policies import load_policy
        from dexndm.teleop.drivers import make_driver
        from dexndm.teleop.server import PageServer
        from dexndm.teleop.session import TeleopConfig, TeleopSession

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        policy = load_policy(self.policy, seed=self.seed)
        residual = None if self.residual is None else TorchResidual(self.residual)
        driver = make_driver(
            self.hand,
            port=self.port,
            profile=self.profile,
            grasp_cache_dir=self.grasp_cache_dir,
            seed=self.seed,
        )
        try:
            session = TeleopSession(
                driver, policy, residual=residual,
                config=TeleopConfig(
                    object=self.object, wrist=self.wrist, axis=self.axis, open_hand=self.start == "open"
                ),
            )  # fmt: skip
        except BaseException:
            driver.close()
            raise
        server = PageServer(
            session, host=self.host, port=self.http_port, choices={"objects": suggested_objects()}
        )
        _stop_on_sigterm()
        session.start_thread()
        try:
            url = server.start()
            print(f"dexndm teleop: {driver.name} with {policy!r}: open {url} (Ctrl-C to stop)", flush=True)
            server.serve_until_interrupted()
        finally:
            server.stop()
            session.close()
            print(f"control loop: {session.loop.stats().summary()}")
        return 0


@dataclass
class ViewCmd:
    """Replay a stored episode or an evaluation episode in the browser (play, pause, scrub, speed)."""

    source: tyro.conf.Positional[Path]
    """An episode store directory, or a directory written by `dexndm eval`."""
    episode: int | None = None
    """Store: the episode index (default: the first). Evaluation: the episode within the cell (0)."""
    cell: int = 0
    """Evaluation: the cell's index in summary.json (objects x wrists x axes)."""
    policy: str | None = None
    """Evaluation: the policy it ran, when not a baseline (hold, random) recorded in summary.json."""
    grasp_cache_dir: Path | None = None
    """Evaluation: the grasp cache it used (default: the user cache)."""
    host: str = DEFAULT_HOST
    http_port: int = DEFAULT_PORT

    def run(self) -> int:
        from dexndm.teleop.replay import load_replay
        from dexndm.teleop.server import PageServer

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        replay = load_replay(
            self.source, episode=self.episode, cell=self.cell, policy=self.policy,
            grasp_cache_dir=self.grasp_cache_dir,
        )  # fmt: skip
        server = PageServer(replay, host=self.host, port=self.http_port)
        _stop_on_sigterm()
        url = server.start()
        print(f"dexndm view: {replay.title} ({len(replay.joint_pos)} frames): open {url} (Ctrl-C to stop)")
        try:
            server.serve_until_interrupted()
        finally:
            server.stop()
        return 0
