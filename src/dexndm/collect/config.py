"""What a collection run does: modes, action sources, noise, episodes; and how episodes are named.

A *mode* fixes the kind of actions and whether the fingers are loaded (the paper's ablations):

=========  ==============================================  =========================
mode       actions                                         load
=========  ==============================================  =========================
``chaos``  a policy's joint targets, rolled out in the     Chaos Box (palm up: the
           training sim and replayed open loop             tethered ball)
``free``   the same replayed targets                       none (free hand)
``sine``   per-joint sine waves                            Chaos Box / tether
``square`` per-joint square waves                          Chaos Box / tether
=========  ==============================================  =========================

Every episode is planned before anything runs: episode ``i`` of wrist ``w`` has the key
``<mode>/<w>/<i:06d>`` and a seed derived from ``(seed, w, i)`` alone, which draws its noise,
its waves and (for replay) picks its simulated rollout. A rerun after a crash skips the keys the
store holds and produces the same commanded targets for the rest.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
import tyro

from dexndm.reality.chaos_box import ChaosBoxConfig
from dexndm.sim.wrists_axes import WRISTS, parse_wrist

Mode = Literal["chaos", "free", "sine", "square"]
ActionKind = Literal["replay", "sine", "square"]

MODES: dict[str, tuple[ActionKind, bool]] = {
    "chaos": ("replay", True),
    "free": ("replay", False),
    "sine": ("sine", True),
    "square": ("square", True),
}
"""mode -> (kind of actions, whether the fingers are loaded)."""


@dataclass(frozen=True)
class ReplayConfig:
    """Where replayed actions come from: the policy's rollouts in the training sim (``RotationEnv``).

    Each rollout runs at the episode's wrist orientation about a uniformly random axis, with the
    env's autoreset off (a dropped object does not cut the sequence: the targets stay a policy's
    motion). The absolute joint targets ``a_t`` of all steps are replayed.
    """

    # also --object, the spelling of eval, demo and sim-episodes
    objects: Annotated[tuple[str, ...], tyro.conf.arg(aliases=("--object",))] = ("cube",)
    """Objects the policy rolls out with (names, categories or mesh paths)."""
    randomize: bool = True
    """Roll out under the training domain randomization (else nominal physics)."""
    num_envs: int = 8
    """Rollouts simulated at once; episode ``i`` comes from batch ``i // num_envs``."""
    grasp_candidates: int = 256
    """Grasp-cache candidates per object and wrist orientation (``GraspConfig.candidates``)."""
    grasp_cache_dir: str | None = None
    """Grasp cache directory (default: dexndm's user cache)."""

    def __post_init__(self) -> None:
        if not self.objects:
            raise ValueError("ReplayConfig.objects must name at least one object")
        if self.num_envs < 1 or self.grasp_candidates < 1:
            raise ValueError("ReplayConfig: num_envs and grasp_candidates must be >= 1")


@dataclass(frozen=True)
class WaveConfig:
    """Per-joint sine or square waves (the ablation modes): every joint of every episode draws its own.

    ``target_j(t) = centre_j + amplitude_j * w(2 pi f_j t + phase_j)`` with ``w = sin`` or
    ``sign(sin)``; ``centre_j`` is the default pose plus a uniform offset, shifted so the wave
    stays inside the joint limits.
    """

    amplitude: tuple[float, float] = (0.05, 0.4)
    """Amplitude range, rad (at most half the joint range is used)."""
    frequency_hz: tuple[float, float] = (0.1, 1.0)
    """Frequency range, Hz (the control rate, 20 Hz, samples it; keep well below 10 Hz)."""
    centre_offset: float = 0.3
    """Wave centres: the default pose plus uniform(-this, this), rad."""

    def __post_init__(self) -> None:
        lo, hi = self.amplitude
        if not 0 <= lo <= hi:
            raise ValueError(
                f"WaveConfig.amplitude must be (low, high) rad with 0 <= low <= high, got {self.amplitude}"
            )
        flo, fhi = self.frequency_hz
        if not 0 < flo <= fhi < 10.0:
            raise ValueError(
                f"WaveConfig.frequency_hz must be (low, high) with 0 < low <= high < 10 Hz (half the 20 Hz "
                f"control rate), got {self.frequency_hz}"
            )
        if self.centre_offset < 0:
            raise ValueError(f"WaveConfig.centre_offset must be >= 0 rad, got {self.centre_offset}")


@dataclass(frozen=True)
class CollectConfig:
    """One collection run (see the module docstring)."""

    mode: Mode = "chaos"
    """``chaos`` (replay + load), ``free`` (replay, no load), ``sine`` or ``square`` (waves + load)."""
    source: str = "random"
    """Policy whose simulated rollouts are replayed (``chaos``/``free``): ``hold``, ``random`` or a
    checkpoint; recorded per episode."""
    episodes: int = 10
    """Episodes per wrist orientation (the paper: 4,000)."""
    wrist: tuple[str, ...] = ("all",)
    """Wrist orientations, collected one after the other: names, ``all`` (the six) or ``w,x,y,z``."""
    steps: int = 400
    """Control steps per episode (400 = 20 s at 20 Hz)."""
    noise_prob: float = 0.5
    """Probability that an episode gets action noise (the paper: 0.5)."""
    noise_std: float = 0.01
    """Std of the Gaussian noise added to every joint target of a noisy episode, rad (the paper: 0.01).
    It goes on the absolute targets ``a_t`` (what the paper calls actions and what is replayed):
    0.01 on the relative action would move a target by 0.0004 rad, below one encoder tick."""
    settle_s: float = 1.0
    """Before the first episode of each wrist orientation the hand holds its pose this long, s
    (unrecorded), so Chaos Box balls settle."""
    seed: int = 0
    box: ChaosBoxConfig = field(default_factory=ChaosBoxConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    waves: WaveConfig = field(default_factory=WaveConfig)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown collection mode {self.mode!r}: use one of {list(MODES)}")
        if self.episodes < 1 or self.steps < 1:
            raise ValueError(
                f"CollectConfig: episodes and steps must be >= 1, got {self.episodes}, {self.steps}"
            )
        if not 0 <= self.noise_prob <= 1 or self.noise_std < 0:
            raise ValueError(
                f"CollectConfig: noise_prob must be in [0, 1] and noise_std >= 0, got {self.noise_prob}, "
                f"{self.noise_std}"
            )
        if self.settle_s < 0:
            raise ValueError(f"CollectConfig.settle_s must be >= 0, got {self.settle_s}")
        for w in self.wrists():
            parse_wrist(w)  # a clear error for a bad name, before any hardware moves

    @property
    def actions(self) -> ActionKind:
        return MODES[self.mode][0]

    @property
    def loaded(self) -> bool:
        return MODES[self.mode][1]

    def wrists(self) -> list[str]:
        """The wrist orientations in collection order (``all`` expanded, duplicates dropped)."""
        out: list[str] = []
        for w in self.wrist:
            for name in WRISTS if w == "all" else [w]:
                if name not in out:
                    out.append(name)
        return out

    def plan(self) -> dict:
        """What fixes the content of each episode: a resumed run must match it (see ``collect``)."""
        from dataclasses import asdict

        out = asdict(self)
        # More episodes or other wrists extend a collection; they do not change its episodes.
        for key in ("episodes", "wrist", "settle_s"):
            out.pop(key)
        out["replay"].pop("grasp_cache_dir")  # where grasps are cached does not change them
        return out


def episode_key(mode: str, wrist: str, index: int) -> str:
    """The store key of episode ``index`` of ``wrist``, e.g. ``chaos/palm_down/000017``."""
    return f"{mode}/{wrist}/{index:06d}"


def wrist_seed(seed: int, wrist: str) -> int:
    """A 32-bit seed for everything of one wrist orientation (stable across runs and machines)."""
    return int(np.random.SeedSequence((seed, zlib.crc32(wrist.encode()))).generate_state(1)[0])


def episode_rng(seed: int, wrist: str, index: int, stream: int) -> np.random.Generator:
    """Generator for one purpose (``stream``) of episode ``index``; a function of its arguments only."""
    return np.random.default_rng(np.random.SeedSequence((seed, zlib.crc32(wrist.encode()), index, stream)))
