"""What each collection mode commands, the per-episode noise, and the hands a run asks for."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fakes.hand import FakeHands

from dexndm.collect.collector import collect
from dexndm.collect.config import MODES, CollectConfig, ReplayConfig, WaveConfig, episode_rng
from dexndm.collect.hands import LeapHands
from dexndm.collect.sources import ReplaySource, wave_targets
from dexndm.hand import constants as C


def _arrays_and_meta(store):
    return [(store.load(i), store.meta(i)) for i in store.episode_indices()]


def test_noise_in_about_half_the_episodes_and_recorded(tmp_path):
    cfg = CollectConfig(mode="sine", episodes=40, wrist=("palm_down",), steps=8, settle_s=0.0, seed=1)
    store = collect(cfg, tmp_path, FakeHands(), progress=False).store
    noisy = 0
    for arrays, meta in _arrays_and_meta(store):
        clean, _ = wave_targets(
            "sine", cfg.steps, cfg.waves, episode_rng(cfg.seed, "palm_down", meta["episode"], 0)
        )
        added = arrays["commanded_targets"] - clean.astype(np.float32)
        if meta["noise"]:
            noisy += 1
            assert meta["noise_std"] == 0.01
            assert 0.006 < added.std() < 0.014 and abs(added.mean()) < 0.005
        else:
            assert meta["noise_std"] == 0.0
            np.testing.assert_allclose(added, 0.0, atol=1e-6)
    # Binomial(40, 0.5): outside [10, 30] with probability < 2e-3
    assert 10 <= noisy <= 30


def test_sine_and_square_waves_per_joint(tmp_path):
    cfg = CollectConfig(mode="sine", episodes=2, wrist=("thumb_up",), steps=200, noise_prob=0.0, settle_s=0.0)
    for mode in ("sine", "square"):
        store = collect(replace(cfg, mode=mode), tmp_path / mode, FakeHands(), progress=False).store
        for arrays, meta in _arrays_and_meta(store):
            targets = arrays["commanded_targets"].astype(np.float64)
            p = {k: np.array(v) for k, v in meta["source_meta"].items()}
            assert meta["actions"] == mode and meta["source"] == mode and meta["load"] == "box"
            assert np.all(targets >= C.JOINT_LOWER - 1e-6) and np.all(targets <= C.JOINT_UPPER + 1e-6)
            assert np.all((p["amplitude"] >= 0.05 - 1e-9) & (p["amplitude"] <= 0.4 + 1e-9))
            deviation = targets - p["centre"]
            if mode == "square":
                # two levels per joint, centre +- amplitude
                np.testing.assert_allclose(
                    np.abs(deviation), np.broadcast_to(p["amplitude"], deviation.shape), atol=1e-5
                )
            else:
                # a sine at the drawn frequency: its spectrum peaks there (10 s: 0.1 Hz bins)
                spectrum = np.abs(np.fft.rfft(deviation, axis=0))
                freqs = np.fft.rfftfreq(len(targets), C.CONTROL_DT)
                peak = freqs[np.argmax(spectrum[1:], axis=0) + 1]
                np.testing.assert_allclose(peak, p["frequency_hz"], atol=0.06)
                assert np.all(np.abs(deviation).max(axis=0) <= p["amplitude"] + 1e-5)


def test_wave_amplitude_capped_by_the_joint_range():
    wide = WaveConfig(amplitude=(5.0, 5.0), frequency_hz=(0.5, 0.5), centre_offset=0.0)
    targets, params = wave_targets("square", 40, wide, np.random.default_rng(0))
    np.testing.assert_allclose(params["amplitude"], 0.5 * (C.JOINT_UPPER - C.JOINT_LOWER), atol=1e-6)
    assert np.all(targets >= C.JOINT_LOWER - 1e-9) and np.all(targets <= C.JOINT_UPPER + 1e-9)


def test_replay_source_is_a_policy_rollout_fixed_per_episode(grasp_cache):
    replay = ReplayConfig(num_envs=2, grasp_candidates=32, grasp_cache_dir=grasp_cache)
    source = ReplaySource("random", steps=12, episodes=3, config=replay, seed=0)
    full = {i: (t, m) for i, t, m in source.sequences("palm_down", [0, 1, 2])}
    assert sorted(full) == [0, 1, 2]
    for targets, meta in full.values():
        assert targets.shape == (12, 16)
        # a policy's targets: relative actions of at most 1/24 rad, inside the limits
        assert np.abs(np.diff(targets, axis=0)).max() <= C.ACTION_SCALE + 1e-6
        assert np.all(targets >= C.JOINT_LOWER - 1e-6) and np.all(targets <= C.JOINT_UPPER + 1e-6)
        assert meta["policy"] == "random" and meta["object"] == "cube"
        assert abs(np.linalg.norm(meta["axis"]) - 1.0) < 1e-5
    assert not np.allclose(full[0][0], full[1][0]), "episodes must differ"
    # asking for one episode alone gives the same sequence (what a resumed run relies on)
    ((index, targets, _),) = list(source.sequences("palm_down", [2]))
    np.testing.assert_array_equal(targets, full[2][0])
    # the hold policy replays the grasp: constant targets
    hold = ReplaySource("hold", steps=12, episodes=1, config=replay, seed=0)
    ((_, held, _),) = list(hold.sequences("palm_down", [0]))
    np.testing.assert_allclose(held, np.broadcast_to(held[0], held.shape), atol=1e-6)


@pytest.mark.parametrize("mode", list(MODES))
def test_each_mode_asks_for_its_load(mode, tmp_path, monkeypatch):
    # the action sources are tested above; here only which hands are opened and what is recorded
    from dexndm.collect import collector

    class Constant:
        def sequences(self, wrist, indices):
            for i in indices:
                yield i, np.tile(C.DEFAULT_POSE, (4, 1)), {"fake": True}

    monkeypatch.setattr(collector, "make_source", lambda cfg: Constant())
    hands = FakeHands()
    cfg = CollectConfig(mode=mode, episodes=1, wrist=("palm_up", "base_up"), steps=4, settle_s=0.0)
    store = collect(cfg, tmp_path, hands, progress=False).store
    loaded = MODES[mode][1]
    assert hands.opened == [("palm_up", loaded), ("base_up", loaded)]
    assert {store.meta(i)["load"] for i in store.episode_indices()} == ({"box"} if loaded else {"none"})


def test_a_hand_that_cannot_turn_its_wrist_gets_one_orientation(tmp_path):
    with pytest.raises(ValueError, match="cannot turn its own wrist"):
        collect(CollectConfig(wrist=("all",)), tmp_path, LeapHands(), progress=False)
    assert not (tmp_path / "meta.json").exists(), "nothing is created before the check"


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="unknown collection mode"):
        CollectConfig(mode="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown wrist orientation"):
        CollectConfig(wrist=("palm_sideways",))
    with pytest.raises(ValueError, match="noise_prob"):
        CollectConfig(noise_prob=1.5)
    with pytest.raises(ValueError, match="half the 20 Hz"):
        WaveConfig(frequency_hz=(1.0, 12.0))


def test_leap_opener_builds_the_driver_from_the_command_line():
    from dexndm.cli import main  # noqa: F401 - the CLI module must import without hardware
    from dexndm.collect.cli import CollectCmd
    from dexndm.hardware.leap import LeapHand

    cmd = CollectCmd(hand="leap", port="/dev/ttyUSB7", current_limit_ma=420)
    opened = cmd.hands().open("palm_down", loaded=True)
    assert isinstance(opened.hand, LeapHand) and not opened.hand.is_connected
    assert (opened.hand.config.port, opened.hand.config.current_limit_ma) == ("/dev/ttyUSB7", 420)
    assert opened.meta == {"hand": "leap", "port": "/dev/ttyUSB7", "load": "box", "load_declared": True}
    assert cmd.hands().open("palm_up", loaded=True).meta["load"] == "tether"
