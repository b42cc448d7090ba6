"""The hands a collection can run on, opened once per wrist orientation.

A collection runs the wrist orientations one after the other; for each it opens a hand with
:meth:`HandOpener.open` and keeps it for all of that orientation's episodes (no resets between
episodes). The opener says what the hand is and what loads it, for the episode metadata.

- :class:`SimulatedHands`: a new ``SimulatedReality`` world per wrist orientation, with the
  Chaos Box (or the palm-up tethered ball) built around the hand at that orientation. A new world
  rather than a re-posed one, because the box is placed for the orientation: the real setup
  equally moves the hand out of the box, turns the wrist and lowers it again.
- :class:`LeapHands`: the physical LEAP hand. It cannot turn its own wrist, so a run covers the one
  orientation it is mounted at; the load (box of balls, tethered ball) is whatever the operator
  set up, recorded as declared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from dexndm.collect.config import wrist_seed
from dexndm.reality.base import RealHand
from dexndm.reality.chaos_box import ChaosBox, ChaosBoxConfig, load_kind


@dataclass
class OpenedHand:
    """A hand ready to connect, and what to record about it in every episode's metadata."""

    hand: RealHand
    meta: dict[str, Any]
    """``hand`` (kind), ``load`` (``box`` / ``tether`` / ``none``) and hand-specific entries."""
    after_episode: Callable[[], dict[str, Any]] | None = None
    """Metadata read after each episode (a simulated box: how many balls are out of it)."""


class HandOpener(Protocol):
    kind: str
    """``sim``, ``leap`` or a test double's name; recorded in the store's metadata."""
    turns_wrist: bool
    """Whether :meth:`open` can give a hand at any wrist orientation (else one per run)."""

    def open(self, wrist: str, loaded: bool) -> OpenedHand:
        """A (not yet connected) hand at ``wrist``, with the Chaos Box load if ``loaded``."""
        ...


def reality_identity(opener: object) -> dict[str, Any] | None:
    """What the episodes' physics depend on beyond the collection plan, for the store's resume
    check: a simulated hand's reality profile by name and content; None for a physical hand
    (which is what it is) or an opener that has no such thing."""
    profile = getattr(opener, "profile", None)
    if profile is None or getattr(opener, "kind", None) != "sim":
        return None
    import hashlib
    import json
    from dataclasses import asdict

    from dexndm.reality.profile import load_profile

    loaded = load_profile(profile)
    # the content, not the file name: an edited TOML at the same path is another reality
    text = json.dumps(asdict(loaded), sort_keys=True, default=str)
    return {"profile": loaded.name, "profile_sha256": hashlib.sha256(text.encode()).hexdigest()[:16]}


@dataclass
class SimulatedHands:
    """``SimulatedReality`` worlds, one per wrist orientation; see the module docstring."""

    profile: str = "default"
    """Reality-gap profile: ``mild``, ``default``, ``harsh`` or a TOML file."""
    box: ChaosBoxConfig = field(default_factory=ChaosBoxConfig)
    seed: int = 0
    kind: str = "sim"
    turns_wrist: bool = True

    def open(self, wrist: str, loaded: bool) -> OpenedHand:
        from dexndm.reality.simulated import SimulatedReality  # mujoco is loaded only to simulate

        load = ChaosBox(wrist, self.box) if loaded else None
        hand = SimulatedReality(
            self.profile, wrist=wrist, extra_scene=load, seed=wrist_seed(self.seed, wrist)
        )
        meta: dict[str, Any] = {"hand": self.kind, "profile": hand.profile.name, "load": "none"}
        if load is None:
            return OpenedHand(hand, meta)
        layout = load.layout
        assert layout is not None
        meta["load"] = load.kind
        meta["load_layout"] = layout.to_json()
        model, data = hand.mj_model_data()

        def load_state() -> dict[str, Any]:
            if layout.kind == "box":
                return {"balls_out_of_box": int(layout.escaped_balls(model, data).sum())}
            return {"tether_stretch_m": layout.tether_stretch(model, data).round(4).tolist()}

        return OpenedHand(hand, meta, load_state)


@dataclass
class LeapHands:
    """The physical LEAP hand over Dynamixel; see the module docstring."""

    port: str = "/dev/ttyUSB0"
    current_limit_ma: int = 350
    box: ChaosBoxConfig = field(default_factory=ChaosBoxConfig)
    """Only its ``palm_up_min_z`` is used: it names the load the operator should have set up."""
    kind: str = "leap"
    turns_wrist: bool = False

    def open(self, wrist: str, loaded: bool) -> OpenedHand:
        from dexndm.hardware.leap import LeapHand, LeapHandConfig

        hand = LeapHand(LeapHandConfig(port=self.port, current_limit_ma=self.current_limit_ma))
        load = load_kind(wrist, self.box) if loaded else "none"
        return OpenedHand(hand, {"hand": self.kind, "port": self.port, "load": load, "load_declared": True})
