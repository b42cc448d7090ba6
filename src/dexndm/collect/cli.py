"""``dexndm collect``: autonomous real-hand data collection (see :mod:`dexndm.collect.collector`).

Examples::

    # the simulated LEAP hand, every wrist orientation, random-policy rollouts replayed in the box
    dexndm collect --hand sim --reality default --mode chaos --source random --episodes 20 \\
        --wrist all --out runs/chaos --seed 0
    # the ablations: free hand, sine or square waves
    dexndm collect --mode free --episodes 20 --out runs/free
    # the physical hand, mounted palm down above the box of balls
    dexndm collect --hand leap --port /dev/ttyUSB0 --wrist palm_down --mode chaos \\
        --source checkpoints/generalist.pt --episodes 4000 --out runs/real_palm_down
    # killed? run the same command again: it resumes where the store stops
    dexndm data verify runs/chaos
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

from dexndm.collect.config import CollectConfig
from dexndm.collect.hands import HandOpener, LeapHands, SimulatedHands


@dataclass
class CollectCmd:
    """Collect episodes on a real hand (or SimulatedReality): open-loop replay, Chaos Box load, no resets."""

    hand: Literal["sim", "leap"] = "sim"
    """``sim``: SimulatedReality (with a reality-gap profile); ``leap``: the LEAP hand over Dynamixel."""
    reality: str = "default"
    """SimulatedReality profile (``--hand sim``): mild, default, harsh or a TOML file."""
    port: str = "/dev/ttyUSB0"
    """Serial port of the LEAP hand (``--hand leap``)."""
    current_limit_ma: int = 350
    """Motor current limit of the LEAP hand, mA (``--hand leap``)."""
    out: Path = Path("out/collect")
    """The episode store (created, or resumed if it exists)."""
    progress: bool = True
    config: Annotated[CollectConfig, tyro.conf.arg(name="")] = field(default_factory=CollectConfig)

    def hands(self) -> HandOpener:
        if self.hand == "sim":
            return SimulatedHands(profile=self.reality, box=self.config.box, seed=self.config.seed)
        return LeapHands(port=self.port, current_limit_ma=self.current_limit_ma, box=self.config.box)

    def run(self) -> int:
        from dexndm.collect.collector import collect

        result = collect(self.config, self.out, self.hands(), progress=self.progress)
        print(
            f"{self.out}: {result.collected} episodes collected, {result.skipped} already there, "
            f"{len(result.store)} in the store; {result.simulated_s:.0f} s of hand time in "
            f"{result.wall_s:.0f} s ({result.simulated_s / max(result.wall_s, 1e-9):.2f}x real time)"
            + (f"; {result.dropped} dropped (physics blew up): rerun to collect them" * bool(result.dropped))
        )
        return 0
