"""Reality-gap profiles: how :class:`~dexndm.reality.simulated.SimulatedReality` differs from the
training sim, in typed, frozen dataclasses loaded from TOML.

A profile describes a LEAP hand as its hardware is specified, in the hardware's own units:
Dynamixel register values for the position loop, mA for the current limit, ms for latencies,
encoder ticks for quantization. The training sim knows none of it and neither does the policy:
a profile only shapes the physics and the readings of the simulated real hand.

Shipped profiles (``dexndm/reality/profiles/*.toml``): ``mild``, ``default`` (a LEAP hand from the
numbers in ``shared/leap-hand.md`` and the XC330-M288-T datasheet) and ``harsh``. The commented
``default.toml`` documents every key. A user profile may leave keys out: they take the default
profile's values (the dataclass defaults below *are* the default profile).

Example::

    from dexndm.reality.profile import load_profile
    profile = load_profile("harsh")                 # a shipped profile
    profile = load_profile("my_hand.toml")          # or a file
    print(profile.motor.kp_nm_per_rad, profile.motor.torque_limit_nm)

Errors (:class:`ProfileError`, a ``ValueError``) name the file, the key and the fix: an unknown
key lists the valid ones and suggests the closest, a wrong type or unit says what the key takes,
an out-of-range value gives the range.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dexndm.hand.constants import MAX_CURRENT_LIMIT_MA, TICKS_PER_REV

PROFILE_DIR = Path(__file__).parent / "profiles"
SHIPPED_PROFILES: tuple[str, ...] = ("mild", "default", "harsh")

# The Dynamixel X-series e-Manual gives the internal gains as KPP = P(84) / 128 and
# KPD = D(80) / 16, "the constant includes the sampling time", but not their SI units. Our model:
# in current-based position mode the loop outputs a goal current in mA from the position error in
# encoder ticks (KPP: mA per tick) and its rate in ticks per ms (KPD: mA per tick/ms, a 1 kHz
# loop). With the XC330-M288's 0.517 Nm/A this gives kp = 2.1 Nm/rad for P = 800 (peers' sim:
# 3.0) and kd = 0.0042 Nm s/rad for D = 200: the real loop is lightly damped by its D term; most
# of its damping is gear friction and the motor's torque-speed droop.
P_GAIN_DIVISOR = 128.0
D_GAIN_DIVISOR = 16.0
D_GAIN_TIME_BASE_S = 1e-3
TICKS_PER_RAD = TICKS_PER_REV / (2.0 * math.pi)


class ProfileError(ValueError):
    """A profile that cannot be loaded; the message says what is wrong and how to fix it."""


def _key(lo: float | None = None, hi: float | None = None, unit: str = "", doc: str = "") -> Any:
    """Field metadata: the allowed closed range ``[lo, hi]``, the unit and a one-line doc."""
    return {"range": (lo, hi), "unit": unit, "doc": doc}


@dataclass(frozen=True)
class MotorProfile:
    """The Dynamixel XC330-M288-T in current-based position mode (operating mode 5)."""

    p_gain: float = field(default=800.0, metadata=_key(0, 16383, "register units", "Position P Gain (84)"))
    d_gain: float = field(default=200.0, metadata=_key(0, 16383, "register units", "Position D Gain (80)"))
    side_to_side_gain_scale: float = field(
        default=0.75, metadata=_key(0.05, 1.0, "", "P and D scale on the if/mf/rf rot joints")
    )
    current_limit_ma: float = field(
        default=350.0, metadata=_key(1, MAX_CURRENT_LIMIT_MA, "mA", "Goal Current (102): caps the torque")
    )
    torque_constant_nm_per_a: float = field(
        default=0.517, metadata=_key(0.05, 2.0, "Nm/A", "output torque per motor current")
    )
    stall_torque_nm: float = field(default=0.93, metadata=_key(0.05, 5.0, "Nm", "stall torque at 5 V"))
    no_load_speed_rpm: float = field(default=81.0, metadata=_key(5, 1000, "rpm", "no-load speed at 5 V"))
    backlash_rad: float = field(default=0.005, metadata=_key(0, 0.1, "rad", "gear play at the output"))
    coulomb_friction_nm: float = field(default=0.02, metadata=_key(0, 0.5, "Nm", "dry friction per joint"))
    viscous_friction_nm_s_per_rad: float = field(
        default=0.03, metadata=_key(0, 1.0, "Nm s/rad", "viscous friction per joint")
    )
    armature_kg_m2: float = field(
        default=0.0014, metadata=_key(0, 0.05, "kg m^2", "reflected rotor inertia (1.7e-8 x 288.35^2)")
    )

    @property
    def torque_limit_nm(self) -> float:
        """Torque at the current limit, Nm (never above the stall torque)."""
        return min(self.current_limit_ma * 1e-3 * self.torque_constant_nm_per_a, self.stall_torque_nm)

    @property
    def kp_nm_per_rad(self) -> float:
        """Position gain in SI, Nm/rad (see ``P_GAIN_DIVISOR``)."""
        return self.p_gain / P_GAIN_DIVISOR * 1e-3 * TICKS_PER_RAD * self.torque_constant_nm_per_a

    @property
    def kd_nm_s_per_rad(self) -> float:
        """Derivative gain in SI, Nm s/rad (see ``D_GAIN_DIVISOR``)."""
        ticks_per_rad_per_base = TICKS_PER_RAD * D_GAIN_TIME_BASE_S
        return self.d_gain / D_GAIN_DIVISOR * 1e-3 * ticks_per_rad_per_base * self.torque_constant_nm_per_a

    @property
    def no_load_speed_rad_s(self) -> float:
        return self.no_load_speed_rpm * 2.0 * math.pi / 60.0


@dataclass(frozen=True)
class LatencyProfile:
    """Delays between the controller and the motors. Jitter is uniform in ``[-jitter, +jitter]``."""

    command_latency_ms: float = field(
        default=10.0, metadata=_key(0, 200, "ms", "send -> the motors act on the new goal")
    )
    command_jitter_ms: float = field(
        default=3.0, metadata=_key(0, 100, "ms", "spread of the command latency")
    )
    sensing_latency_ms: float = field(
        default=8.0, metadata=_key(0, 200, "ms", "age of a reading when it is returned")
    )
    sensing_jitter_ms: float = field(
        default=2.0, metadata=_key(0, 100, "ms", "spread of the sensing latency")
    )


@dataclass(frozen=True)
class EncoderProfile:
    """What the motors report: the XC330's 12-bit absolute encoder and its current sense."""

    ticks_per_rev: int = field(default=TICKS_PER_REV, metadata=_key(256, 1 << 20, "ticks", "resolution"))
    noise_ticks: float = field(default=0.5, metadata=_key(0, 50, "ticks", "std of position noise"))
    current_noise_ma: float = field(default=5.0, metadata=_key(0, 500, "mA", "std of current noise"))


@dataclass(frozen=True)
class ContactProfile:
    """Contact friction and softness of the hand and the object (MuJoCo solref / solimp)."""

    object_friction: float = field(default=0.3, metadata=_key(0.01, 5, "", "object sliding friction"))
    fingertip_friction: float = field(default=0.3, metadata=_key(0.01, 5, "", "fingertip sliding friction"))
    link_friction: float = field(default=0.3, metadata=_key(0.01, 5, "", "other hand links' friction"))
    torsional_friction: float = field(default=0.001, metadata=_key(0, 1, "m", "MuJoCo torsional friction"))
    rolling_friction: float = field(default=0.0002, metadata=_key(0, 0.1, "m", "MuJoCo rolling friction"))
    solref_timeconst_s: float = field(
        default=0.02, metadata=_key(0.0005, 0.5, "s", "contact stiffness time constant (softer: larger)")
    )
    solref_dampratio: float = field(default=1.0, metadata=_key(0.05, 10, "", "contact damping ratio"))
    solimp: tuple[float, float, float, float, float] = field(
        default=(0.9, 0.95, 0.001, 0.5, 2.0),
        metadata=_key(0, 1000, "", "MuJoCo solimp: dmin, dmax, width m, midpoint, power"),
    )


@dataclass(frozen=True)
class MassProfile:
    """Multiplicative offsets from the nominal model (the object's spec and the hand's links)."""

    object_mass_scale: float = field(default=1.5, metadata=_key(0.05, 20, "", "object mass multiplier"))
    object_inertia_scale: float = field(default=1.5, metadata=_key(0.05, 20, "", "object inertia multiplier"))
    link_mass_scale: float = field(default=1.0, metadata=_key(0.1, 10, "", "hand link mass multiplier"))
    link_inertia_scale: float = field(default=1.0, metadata=_key(0.1, 10, "", "hand link inertia multiplier"))


CONES = ("elliptic", "pyramidal")
INTEGRATORS = ("implicitfast", "euler", "rk4", "implicit")


@dataclass(frozen=True)
class PhysicsProfile:
    """The simulated reality's own MuJoCo settings (finer than the training sim's 1/120 s)."""

    timestep_s: float = field(default=0.001, metadata=_key(1e-4, 1.0 / 120.0, "s", "physics step"))
    integrator: str = field(default="implicitfast", metadata=_key(doc=f"one of {INTEGRATORS}"))
    cone: str = field(default="elliptic", metadata=_key(doc=f"friction cone, one of {CONES}"))
    impratio: float = field(default=10.0, metadata=_key(1, 100, "", "friction-to-normal impedance ratio"))
    iterations: int = field(default=50, metadata=_key(1, 1000, "", "constraint solver iterations"))
    ls_iterations: int = field(default=20, metadata=_key(1, 1000, "", "line-search iterations"))


@dataclass(frozen=True)
class RealityProfile:
    """A complete reality gap. Sections mirror the TOML tables of the same names."""

    name: str = "default"
    description: str = ""
    motor: MotorProfile = field(default_factory=MotorProfile)
    latency: LatencyProfile = field(default_factory=LatencyProfile)
    encoder: EncoderProfile = field(default_factory=EncoderProfile)
    contact: ContactProfile = field(default_factory=ContactProfile)
    mass: MassProfile = field(default_factory=MassProfile)
    physics: PhysicsProfile = field(default_factory=PhysicsProfile)

    def __post_init__(self) -> None:
        steps = 0.05 / self.physics.timestep_s
        if abs(steps - round(steps)) > 1e-6:
            raise ProfileError(
                f"profile {self.name!r}: [physics] timestep_s = {self.physics.timestep_s} does not "
                f"divide the 0.05 s control period; use e.g. 0.001 (50 steps) or {1 / 600:.6g} (30 steps)"
            )

    def replace(self, **sections: Any) -> RealityProfile:
        """A copy with fields of sections changed: ``profile.replace(motor={"p_gain": 400})``."""
        changes: dict[str, Any] = {}
        for section, values in sections.items():
            current = getattr(self, section)
            changes[section] = (
                dataclasses.replace(current, **values) if dataclasses.is_dataclass(current) else values
            )
        return dataclasses.replace(self, **changes)

    def with_hand_of(self, other: RealityProfile) -> RealityProfile:
        """This profile with ``other``'s hand: its motors, bus latencies and encoders; the contacts,
        masses and physics settings stay this profile's.

        With ``other`` = mild (whose hand follows its targets about as the training sim's does),
        the policy on the result shows what a perfect correction of the joints' dynamics, which
        DexNDM's residual aims for, could give on this profile (docs/results.md section 2b).
        """
        return dataclasses.replace(
            self,
            name=f"{self.name} with the hand of {other.name}",
            motor=other.motor,
            latency=other.latency,
            encoder=other.encoder,
        )


SECTIONS: dict[str, type] = {
    "motor": MotorProfile,
    "latency": LatencyProfile,
    "encoder": EncoderProfile,
    "contact": ContactProfile,
    "mass": MassProfile,
    "physics": PhysicsProfile,
}
TOP_LEVEL_KEYS = ("name", "description", "base")
_CHOICES = {("physics", "cone"): CONES, ("physics", "integrator"): INTEGRATORS}


# ---- loading --------------------------------------------------------------------------------------
def profile_path(name_or_path: str | Path) -> Path:
    """The file of a shipped profile name, or ``name_or_path`` itself if it is a file."""
    text = str(name_or_path)
    if text in SHIPPED_PROFILES:
        return PROFILE_DIR / f"{text}.toml"
    path = Path(text).expanduser()
    if path.is_file():
        return path
    hint = difflib.get_close_matches(text, SHIPPED_PROFILES, n=1)
    raise ProfileError(
        f"unknown reality profile {text!r}: use one of {list(SHIPPED_PROFILES)} or a path to a .toml "
        f"file{f' (did you mean {hint[0]!r}?)' if hint else ''}; "
        f"{PROFILE_DIR / 'default.toml'} documents every key"
    )


def load_profile(profile: str | Path | RealityProfile = "default") -> RealityProfile:
    """A :class:`RealityProfile` from a shipped name, a TOML file, or one already built.

    A file may set ``base = "mild"`` (or another file) to start from that profile instead of
    the default; the keys it sets override the base's.

    Raises:
        ProfileError: unknown name or key, wrong type or unit, value out of range, bad TOML.
    """
    if isinstance(profile, RealityProfile):
        return profile
    return _load(profile_path(profile), seen=())


def _load(path: Path, seen: tuple[Path, ...]) -> RealityProfile:
    resolved = path.resolve()
    if resolved in seen:
        raise ProfileError(f"profile {path}: 'base' loops back to {resolved}; remove one of the bases")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"profile {path} is not valid TOML: {e}") from None
    where = str(path)
    _check_unknown(raw, (*TOP_LEVEL_KEYS, *SECTIONS), where, what="top-level key")
    base_name = raw.get("base")
    if base_name is None:
        base = RealityProfile()
    else:
        if not isinstance(base_name, str):
            raise ProfileError(f"{where}: base must be a profile name or path (a string), got {base_name!r}")
        base_path = Path(base_name)
        if base_name not in SHIPPED_PROFILES and not base_path.is_absolute():
            base_path = path.parent / base_path  # relative to the profile that names it
        base = _load(
            profile_path(base_name if base_name in SHIPPED_PROFILES else base_path), (*seen, resolved)
        )
    sections: dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        values = raw.get(section, {})
        if not isinstance(values, dict):
            raise ProfileError(f"{where}: [{section}] must be a table of keys, got {values!r}")
        sections[section] = _section(cls, section, values, getattr(base, section), where)
    for key in ("name", "description"):
        if key in raw and not isinstance(raw[key], str):
            raise ProfileError(f"{where}: {key} must be a string, got {raw[key]!r}")
    return RealityProfile(
        name=raw.get("name", path.stem), description=raw.get("description", base.description), **sections
    )


def _check_unknown(values: dict[str, Any], valid: tuple[str, ...] | list[str], where: str, what: str) -> None:
    for key in values:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ProfileError(f"{where}: unknown {what} {key!r}{hint} Valid keys: {', '.join(valid)}")


def _section(cls: type, section: str, values: dict[str, Any], base: Any, where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _check_unknown(values, list(fields), where, what=f"key in [{section}]")
    out = {}
    for name, value in values.items():
        out[name] = _checked(section, fields[name], value, where)
    return dataclasses.replace(base, **out)


def _describe(section: str, f: dataclasses.Field) -> str:
    unit = f.metadata.get("unit", "")
    return f"[{section}] {f.name}" + (f" ({unit})" if unit else "")


def _checked(section: str, f: dataclasses.Field, value: Any, where: str) -> Any:
    label = _describe(section, f)
    lo, hi = f.metadata.get("range", (None, None))
    default = f.default
    if isinstance(default, str):
        choices = _CHOICES.get((section, f.name), ())
        if not isinstance(value, str) or (choices and value not in choices):
            raise ProfileError(f"{where}: {label} must be one of {list(choices)}, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or len(value) != len(default) or not all(_is_number(v) for v in value):
            raise ProfileError(
                f"{where}: {label} must be a list of {len(default)} numbers, e.g. {list(default)}; "
                f"got {value!r}"
            )
        for v in value:
            _check_range(label, float(v), lo, hi, where)
        return tuple(float(v) for v in value)
    if not _is_number(value):
        unit = f.metadata.get("unit", "")
        hint = f" in {unit}" if unit else ""
        raise ProfileError(
            f"{where}: {label} takes a plain number{hint} (the unit is in the key's name or documented), "
            f"got {value!r}; write e.g. {f.name} = {default}"
        )
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, float) and not value.is_integer():
            raise ProfileError(f"{where}: {label} must be a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    _check_range(label, value, lo, hi, where)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_range(label: str, value: float, lo: float | None, hi: float | None, where: str) -> None:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ProfileError(f"{where}: {label} = {value} is out of range; allowed [{lo}, {hi}]")
