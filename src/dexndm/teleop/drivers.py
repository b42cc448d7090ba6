"""What the teleoperation loop drives: a small interface over the three kinds of hand.

- :class:`SimEnvDriver`: the training simulator (one ``RotationEnv``, nominal physics). Works
  anywhere, no hand needed; the object's pose is known.
- :class:`SimulatedRealityDriver`: ``SimulatedReality`` (``dexndm.reality.simulated``), the
  simulated *real* hand, with its reality gap; the object's pose is known (it is a simulation).
- :class:`RealHandDriver` around ``LeapHand``: the physical hand. Nothing tracks the object, so
  readouts that need its pose show n/a and the page hides it.

Every driver is used from one thread (the control thread), in this order each control period::

    state = driver.read()              # joints (+ object) after the last period
    sent = driver.send(joint_targets)  # through the hand's safety filter
    driver.advance(period_s)           # simulated time passes (the real hand: nothing to do)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dexndm.hand import constants as C

FALL_DISTANCE = 0.06
"""m from the grasp centre at which the object counts as dropped (the env's ``fall_distance``)."""


@dataclass
class DriverState:
    """One reading, world frame, sim joint order, radians.

    Attributes:
        joint_pos: ``(16,)`` measured joint angles.
        object_pos, object_quat: ``(3,)`` / ``(4,)`` (w, x, y, z), None when unknown.
        dropped: the object fell during the last period (a simulator has already put a new grasp
            in place when this is set).
    """

    joint_pos: np.ndarray
    object_pos: np.ndarray | None = None
    object_quat: np.ndarray | None = None
    dropped: bool = False


class TeleopDriver(ABC):
    """A hand the teleoperation loop can drive (see the module docstring for the call order)."""

    name: str = "driver"
    knows_object: bool = False
    """Whether :meth:`read` reports the object's pose."""
    live_wrist: bool = False
    """Whether :meth:`set_wrist` turns the wrist while running; otherwise a wrist change re-grasps."""

    @abstractmethod
    def reset(self, object_name: str, wrist_quat: np.ndarray, open_hand: bool = False) -> np.ndarray:
        """Put the hand back at a grasp of ``object_name`` at ``wrist_quat``, or, with
        ``open_hand``, open, with the object held where the grasp will be until :meth:`let_go`.

        Returns:
            ``(16,)`` joint targets, rad: what the loop holds until it runs.
        """

    def let_go(self) -> None:  # noqa: B027 (a physical hand: the person holding the object lets go)
        """Whoever holds the object in an open-hand start lets go of it."""

    @abstractmethod
    def read(self) -> DriverState:
        """The state after the last period."""

    @abstractmethod
    def send(self, joint_targets: np.ndarray) -> np.ndarray:
        """Command ``(16,)`` targets, rad; returns those actually sent (after safety limits)."""

    def advance(self, period_s: float) -> None:  # noqa: B027 (an optional hook: real time needs none)
        """Let ``period_s`` of simulated time pass (nothing for a physical hand)."""

    def set_wrist(self, wrist_quat: np.ndarray) -> None:
        """Turn the wrist to ``wrist_quat`` now (only when :attr:`live_wrist`)."""
        raise NotImplementedError(f"{self.name}: the wrist changes only with a new grasp")

    def close(self) -> None:  # noqa: B027 (an optional hook)
        """Release the hand (torque off for a physical one)."""


def _open_pose() -> np.ndarray:
    """The open hand the policy learned to close from (imported here: the simulator stays unloaded
    for a physical hand until it is needed)."""
    from dexndm.sim.config import HandoverConfig

    return HandoverConfig().open_joint_pos


def _wrist_text(wrist_quat: np.ndarray) -> str:
    return ",".join(repr(float(v)) for v in wrist_quat)


class SimEnvDriver(TeleopDriver):
    """The training simulator: one ``RotationEnv`` with nominal physics (no randomization).

    The env is rebuilt when the object or the wrist changes (it compiles one model per object and
    draws grasps per wrist from the grasp cache, generating them the first time: seconds).

    Args:
        grasp_candidates: grasp candidates tried when a (object, wrist) is not cached yet.
        grasp_cache_dir: where grasps are cached (default: the user cache).
        seed: env seed (which cached grasp is drawn).
    """

    name = "sim"
    knows_object = True
    live_wrist = False

    def __init__(
        self, *, grasp_candidates: int = 256, grasp_cache_dir: str | Path | None = None, seed: int = 0
    ):
        self.grasp_candidates = grasp_candidates
        self.grasp_cache_dir = None if grasp_cache_dir is None else str(grasp_cache_dir)
        self.seed = seed
        self.env: Any = None
        self._key: tuple[str, str, bool] | None = None
        self._dropped = False

    def reset(self, object_name: str, wrist_quat: np.ndarray, open_hand: bool = False) -> np.ndarray:
        from dexndm.sim.config import EnvConfig, HandoverConfig, RandomizationConfig
        from dexndm.sim.env import RotationEnv
        from dexndm.sim.grasp import GraspConfig

        key = (object_name, _wrist_text(wrist_quat), open_hand)
        if key != self._key or self.env is None:
            self.close()
            # the policy's time limit is the operator's: no time-out, only drops end an episode
            self.env = RotationEnv(
                EnvConfig(
                    num_envs=1,
                    objects=(object_name,),
                    wrists=(key[1],),
                    episode_steps=10**9,
                    seed=self.seed,
                    nthread=1,
                    randomization=RandomizationConfig.none(),
                    grasp=GraspConfig(candidates=self.grasp_candidates),
                    handover=HandoverConfig(prob=1.0 if open_hand else 0.0),
                    grasp_cache_dir=self.grasp_cache_dir,
                )  # fmt: skip
            )
            self._key = key
        else:
            self.env.reset()
        if open_hand:  # the operator, not the env's clock, decides when to let go
            self.env.keep_holding(np.arange(1))
        self._dropped = False
        return self.env.targets[0].copy()

    def let_go(self) -> None:
        self.env.let_go(np.arange(1))

    def read(self) -> DriverState:
        env = self.env
        dropped, self._dropped = self._dropped, False
        return DriverState(env.q[0].copy(), env.obj_pos[0].copy(), env.obj_quat[0].copy(), dropped)

    def send(self, joint_targets: np.ndarray) -> np.ndarray:
        # The env takes relative actions (target += a / 24): ask for the step that reaches the
        # requested targets, within the env's own per-step limit.
        env = self.env
        action = np.clip((np.asarray(joint_targets) - env.targets[0]) / C.ACTION_SCALE, -1.0, 1.0)
        _, _, terminated, truncated, _ = env.step(action[None])
        # same-step autoreset: after a drop the env already holds a new grasp
        self._dropped = bool(terminated[0] or truncated[0])
        return env.targets[0].copy()

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None
            self._key = None


class RealHandDriver(TeleopDriver):
    """The physical LEAP hand, or any :class:`dexndm.reality.base.RealHand` without a simulator.

    Nothing tracks the object, so :meth:`read` has no object pose. A reset sends the grasp pose of
    the chosen object from the grasp cache; the hand's safety filter moves the fingers there at
    its capped rate and the operator places the object. The wrist is wherever the arm holds it: a
    wrist change only tells the policy (:attr:`live_wrist`, :meth:`set_wrist` does nothing).

    Args:
        hand: a hand; it is connected here if it is not yet.
        grasp_candidates, grasp_cache_dir, seed: which grasp pose a reset sends.
    """

    knows_object = False
    live_wrist = True

    def __init__(
        self,
        hand: Any,
        *,
        name: str = "",
        grasp_candidates: int = 256,
        grasp_cache_dir: str | Path | None = None,
        seed: int = 0,
    ):
        self.hand = hand
        self.name = name or type(hand).__name__
        self.grasp_candidates = grasp_candidates
        self.grasp_cache_dir = None if grasp_cache_dir is None else Path(grasp_cache_dir)
        self.seed = seed
        if hand is not None and not hand.is_connected:
            hand.connect()

    def _grasps(self, obj: Any, wrist_quat: np.ndarray) -> Any:
        from dexndm.objects import resolve_object
        from dexndm.sim.grasp import GraspConfig, cached_grasps

        spec = resolve_object(obj) if isinstance(obj, str) else obj
        grasps = cached_grasps(
            spec, np.asarray(wrist_quat), GraspConfig(candidates=self.grasp_candidates),
            cache_dir=self.grasp_cache_dir, seed=self.seed,
        )  # fmt: skip
        if len(grasps) == 0:
            raise RuntimeError(
                f"no stable grasp of {spec.name} at this wrist orientation; pick another object or wrist"
            )
        return grasps

    def reset(self, object_name: str, wrist_quat: np.ndarray, open_hand: bool = False) -> np.ndarray:
        if open_hand:  # the operator holds the object in the open hand and lets go when it is held
            return _open_pose()
        return C.clamp_to_limits(self._grasps(object_name, wrist_quat).joint_targets[0].copy())

    def read(self) -> DriverState:
        return DriverState(np.asarray(self.hand.read_state().joint_pos, dtype=np.float64).copy())

    def send(self, joint_targets: np.ndarray) -> np.ndarray:
        return self.hand.send_joint_targets(np.asarray(joint_targets, dtype=np.float64))

    def set_wrist(self, wrist_quat: np.ndarray) -> None:
        pass

    def close(self) -> None:
        if self.hand is not None:
            self.hand.disconnect()


class SimulatedRealityDriver(RealHandDriver):
    """``SimulatedReality`` (``dexndm.reality.simulated``): the hand with a reality gap.

    A simulation, so it knows the object, turns the wrist live (the arm moves, the grasped object
    with it) and a reset puts hand and object back at a cached grasp. One world is built per
    object (it is compiled with it).

    Args:
        profile: the reality-gap profile: ``mild``, ``default``, ``harsh`` or a TOML path.
    """

    knows_object = True
    live_wrist = True

    def __init__(self, profile: str = "default", **kwargs: Any):
        super().__init__(None, name=f"simulated ({profile})", **kwargs)
        self.profile = profile
        self._object = ""

    def reset(self, object_name: str, wrist_quat: np.ndarray, open_hand: bool = False) -> np.ndarray:
        from dexndm.reality.simulated import SimulatedReality

        if self.hand is None or self._object != object_name:
            self.close()
            wrist = np.asarray(wrist_quat)
            self.hand = SimulatedReality(self.profile, wrist=wrist, obj=object_name, seed=self.seed)
            self.hand.connect()
            self._object = object_name
        self.hand.set_wrist(np.asarray(wrist_quat))
        g = self._grasps(self.hand.obj, wrist_quat)
        if open_hand:  # the object where the grasp holds it, held there by the operator
            pose = _open_pose()
            self.hand.reset_to_grasp(pose, pose, g.object_pos[0], g.object_quat[0], held=True)
            return pose
        self.hand.reset_to_grasp(g.joint_pos[0], g.joint_targets[0], g.object_pos[0], g.object_quat[0])
        return C.clamp_to_limits(g.joint_targets[0].copy())

    def let_go(self) -> None:
        self.hand.let_go()

    def read(self) -> DriverState:
        state = super().read()
        pos, quat = self.hand.object_pose()
        state.object_pos, state.object_quat = pos, quat
        state.dropped = bool(np.linalg.norm(pos - self.hand.wrist_pos) > FALL_DISTANCE)
        return state

    def advance(self, period_s: float) -> None:
        self.hand.advance(period_s)

    def set_wrist(self, wrist_quat: np.ndarray) -> None:
        self.hand.set_wrist(np.asarray(wrist_quat))

    def close(self) -> None:
        super().close()
        self.hand = None


def make_driver(
    hand: str,
    *,
    port: str = "/dev/ttyUSB0",
    profile: str = "default",
    grasp_candidates: int = 256,
    grasp_cache_dir: str | Path | None = None,
    seed: int = 0,
) -> TeleopDriver:
    """The driver a command line names: ``simulated`` (SimulatedReality), ``sim`` or ``leap``.

    Raises:
        ValueError: an unknown ``hand``.
    """
    common: dict[str, Any] = {
        "grasp_candidates": grasp_candidates, "grasp_cache_dir": grasp_cache_dir, "seed": seed,
    }  # fmt: skip
    if hand == "sim":
        return SimEnvDriver(**common)
    if hand == "simulated":
        return SimulatedRealityDriver(profile, **common)
    if hand == "leap":
        from dexndm.hardware.leap import LeapHand, LeapHandConfig

        return RealHandDriver(LeapHand(LeapHandConfig(port=port)), name="leap", **common)
    raise ValueError(
        f"unknown hand {hand!r}: use 'simulated' (SimulatedReality, the default), 'sim' or 'leap'"
    )
