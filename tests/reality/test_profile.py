"""Reality-gap profiles: shipped files, inheritance, SI conversions and every error class."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from dexndm.reality.profile import (
    PROFILE_DIR,
    SHIPPED_PROFILES,
    ProfileError,
    RealityProfile,
    load_profile,
)


def write(tmp_path: Path, text: str, name: str = "mine.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", SHIPPED_PROFILES)
def test_shipped_profiles_load(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name and profile.description
    assert (PROFILE_DIR / f"{name}.toml").is_file()
    # every profile leaves the policy's 20 Hz loop whole
    assert round(0.05 / profile.physics.timestep_s) * profile.physics.timestep_s == pytest.approx(0.05)
    assert profile.physics.timestep_s < 1 / 120  # finer than the training sim


def test_default_toml_sets_every_key_to_the_dataclass_defaults() -> None:
    """default.toml documents every key; its values are the defaults user profiles fall back to."""
    text = (PROFILE_DIR / "default.toml").read_text()
    loaded = load_profile("default")
    for section in ("motor", "latency", "encoder", "contact", "mass", "physics"):
        for f in dataclasses.fields(getattr(RealityProfile(), section)):
            assert f"\n{f.name} =" in text, f"default.toml does not document [{section}] {f.name}"
    assert dataclasses.replace(loaded, name="default", description="") == RealityProfile()


def test_mild_and_harsh_bracket_the_default() -> None:
    mild, default, harsh = (load_profile(n) for n in ("mild", "default", "harsh"))
    assert mild.motor.torque_limit_nm > default.motor.torque_limit_nm > harsh.motor.torque_limit_nm
    assert mild.motor.backlash_rad < default.motor.backlash_rad < harsh.motor.backlash_rad
    assert (
        mild.latency.command_latency_ms
        < default.latency.command_latency_ms
        < harsh.latency.command_latency_ms
    )
    tips = [p.contact.fingertip_friction for p in (mild, default, harsh)]
    assert tips[0] > tips[1] > tips[2]
    assert mild.mass.object_mass_scale < default.mass.object_mass_scale < harsh.mass.object_mass_scale


def test_dynamixel_units_convert_to_si() -> None:
    motor = load_profile("default").motor
    # P 800 -> 800/128 mA per tick -> x 4096/(2 pi) ticks/rad x 0.517 Nm/A
    assert motor.kp_nm_per_rad == pytest.approx(800 / 128 * 1e-3 * 4096 / (2 * math.pi) * 0.517)
    assert motor.torque_limit_nm == pytest.approx(0.350 * 0.517)
    assert motor.no_load_speed_rad_s == pytest.approx(81 * 2 * math.pi / 60)


def test_partial_file_takes_defaults_and_base(tmp_path: Path) -> None:
    path = write(tmp_path, "[motor]\ncurrent_limit_ma = 500\n[latency]\ncommand_latency_ms = 12\n")
    profile = load_profile(path)
    assert profile.name == "mine"
    assert profile.motor.current_limit_ma == 500 and profile.latency.command_latency_ms == 12
    assert profile.motor.p_gain == RealityProfile().motor.p_gain
    based = load_profile(write(tmp_path, 'base = "harsh"\nname = "worse"\n[motor]\np_gain = 400\n', "b.toml"))
    assert based.name == "worse" and based.motor.p_gain == 400
    assert based.latency == load_profile("harsh").latency


def test_unknown_key_is_named_with_the_closest_and_the_valid_keys(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, "[latency]\ncommand_latency_s = 0.006\n"))
    message = str(info.value)
    assert "command_latency_s" in message and "did you mean 'command_latency_ms'" in message
    assert "sensing_jitter_ms" in message  # the valid keys are listed
    with pytest.raises(ProfileError, match=r"unknown top-level key 'moter'.*did you mean 'motor'"):
        load_profile(write(tmp_path, "[moter]\np_gain = 800\n"))


def test_wrong_type_or_unit_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"command_latency_ms \(ms\) takes a plain number in ms.*'6 ms'"):
        load_profile(write(tmp_path, '[latency]\ncommand_latency_ms = "6 ms"\n'))
    with pytest.raises(ProfileError, match="ticks_per_rev .* must be a whole number"):
        load_profile(write(tmp_path, "[encoder]\nticks_per_rev = 4096.5\n"))
    with pytest.raises(ProfileError, match=r"solimp must be a list of 5 numbers"):
        load_profile(write(tmp_path, "[contact]\nsolimp = [0.9, 0.95]\n"))
    with pytest.raises(ProfileError, match=r"cone must be one of \['elliptic', 'pyramidal'\]"):
        load_profile(write(tmp_path, '[physics]\ncone = "round"\n'))
    with pytest.raises(ProfileError, match="p_gain .* plain number"):
        load_profile(write(tmp_path, "[motor]\np_gain = true\n"))


def test_out_of_range_value_gives_the_range(tmp_path: Path) -> None:
    with pytest.raises(
        ProfileError, match=r"current_limit_ma \(mA\) = 900.0 is out of range; allowed \[1, 600\]"
    ):
        load_profile(write(tmp_path, "[motor]\ncurrent_limit_ma = 900\n"))
    with pytest.raises(ProfileError, match=r"timestep_s .* out of range"):
        load_profile(write(tmp_path, "[physics]\ntimestep_s = 0.01\n"))
    with pytest.raises(ProfileError, match="does not divide the 0.05 s control period"):
        load_profile(write(tmp_path, "[physics]\ntimestep_s = 0.0015\n"))


def test_unknown_profile_name_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"unknown reality profile 'defualt'.*did you mean 'default'"):
        load_profile("defualt")
    with pytest.raises(ProfileError, match="is not valid TOML"):
        load_profile(write(tmp_path, "[motor\n"))
    loop = write(tmp_path, 'base = "loop.toml"\n', "loop.toml")
    with pytest.raises(ProfileError, match="loops back"):
        load_profile(loop)


def test_with_hand_of_swaps_the_hand_and_keeps_the_world() -> None:
    default, mild = load_profile("default"), load_profile("mild")
    hand = default.with_hand_of(mild)
    assert (hand.motor, hand.latency, hand.encoder) == (mild.motor, mild.latency, mild.encoder)
    assert (hand.contact, hand.mass, hand.physics) == (default.contact, default.mass, default.physics)
    assert hand.name == "default with the hand of mild"
    assert default.motor != mild.motor and default.contact != mild.contact  # so the test can fail
