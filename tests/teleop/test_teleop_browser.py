"""The teleop and replay page in a real headless Chromium (Playwright): what an operator does.

The page talks to a real server and control loop driving the training simulator. Most tests
"start" a seeded random policy (fast, and independent of training): they check that the fingers
move under the policy, about the axis the operator chose, and that the turn readout is the
object's rotation about it. ``test_a_trained_policy_turns_the_object`` starts the shipped
generalist (or the checkpoint ``DEXNDM_TELEOP_POLICY`` names) on a shape of the category it was
trained on and checks that the object really turns.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from teleop_fakes import RecordingPolicy

from dexndm.eval.policies import load_policy
from dexndm.sim.rotations import quat_from_axis_angle
from dexndm.teleop.drivers import SimEnvDriver
from dexndm.teleop.replay import Replay
from dexndm.teleop.server import PageServer
from dexndm.teleop.session import TeleopConfig, TeleopSession

LAPTOP = {"width": 1280, "height": 800}
SHIPPED_GENERALIST = Path(__file__).resolve().parents[2] / "checkpoints" / "generalist" / "generalist.pt"
TABLET = {"width": 820, "height": 1180}  # a 10-inch tablet in portrait


def api_state(url: str) -> dict:
    with urllib.request.urlopen(url + "api/state", timeout=10) as r:
        return json.loads(r.read())


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def serve(source, **kwargs) -> tuple[PageServer, str]:
    server = PageServer(source, port=0, **kwargs)
    return server, server.start()


@pytest.fixture(scope="module")
def teleop(grasp_cache) -> Iterator[tuple[TeleopSession, str]]:
    driver = SimEnvDriver(grasp_candidates=32, grasp_cache_dir=grasp_cache)
    session = TeleopSession(driver, RecordingPolicy(seed=1), config=TeleopConfig(wrist="palm_up", axis="+z"))
    server, url = serve(session, choices={"objects": ["cube", "normal_cuboid/00"]})
    session.start_thread()
    yield session, url
    server.stop()
    session.close()


@pytest.fixture
def page(browser, teleop):
    _, url = teleop
    context = browser.new_context(viewport=LAPTOP)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(url)
    pg.wait_for_function("window.dexndm && window.dexndm.ready && window.dexndm.states > 2", timeout=20000)
    yield pg
    context.close()
    assert not errors, f"the page raised: {errors}"


def test_the_page_loads_and_draws_the_hand_and_object(page, teleop):
    session, _ = teleop
    info = page.evaluate("({meshes: dexndm.meshes, webgl: dexndm.webgl, renders: dexndm.renders})")
    assert info["webgl"] and info["renders"] >= 1
    assert info["meshes"] == len(session.geometry()["geoms"])  # every hand link and the cube
    # the readouts follow the loop: the rate shows the measured 20 Hz
    wait_for(lambda: page.get_by_test_id("loop").inner_text() != "n/a", what="the loop-rate readout")
    assert 10.0 < float(page.get_by_test_id("loop").inner_text().split()[0]) < 30.0
    # something is drawn: the canvas is not one flat colour
    from PIL import Image

    shot = np.asarray(Image.open(io.BytesIO(page.get_by_test_id("scene").screenshot())).convert("L"))
    assert shot.std() > 10.0 and len(np.unique(shot)) > 50


def test_choosing_an_axis_changes_the_commanded_axis(page, teleop):
    _, url = teleop
    page.locator('[data-testid="axis-+y"]').click()
    wait_for(lambda: api_state(url)["axis"] == [0.0, 1.0, 0.0], what="the server's axis to become +y")
    wait_for(lambda: "active" in (page.locator('[data-testid="axis-+y"]').get_attribute("class") or ""))
    # a free axis, typed in
    form = page.locator("#free-axis")
    for name, value in (("x", "1"), ("y", "1"), ("z", "0")):
        form.locator(f'input[name="{name}"]').fill(value)
    page.get_by_test_id("axis-free").click()
    wait_for(
        lambda: np.allclose(api_state(url)["axis"], [0.707107, 0.707107, 0.0], atol=1e-5), what="axis 1,1,0"
    )


def test_start_runs_the_policy_about_the_chosen_axis_and_stop_holds(page, teleop):
    session, url = teleop
    page.locator('[data-testid="axis--x"]').click()
    wait_for(lambda: api_state(url)["axis"] == [-1.0, 0.0, 0.0], what="axis -x")
    page.get_by_test_id("reset").click()
    wait_for(lambda: "reset" in api_state(url)["status"], what="the reset")
    grasp_targets = session.base_targets.copy()
    observed = len(session.policy.observations)
    t0 = time.monotonic()
    page.get_by_test_id("start").click()
    wait_for(lambda: api_state(url)["running"], what="the policy to run")
    time.sleep(1.0)
    state = api_state(url)
    acted = session.policy.observations[observed:]
    elapsed = time.monotonic() - t0
    assert state["running"] and state["readouts"]["time_since_grasp_s"] >= 0.9
    # the policy acted at the control rate (20 Hz), told the axis the operator chose...
    assert 12 <= len(acted) <= 20 * elapsed + 2, (len(acted), elapsed)
    assert all(np.allclose(obs[0, -3:], [-1, 0, 0]) for obs in acted)
    # ...its targets moved the fingers...
    assert np.abs(session.base_targets - grasp_targets).max() > 0.05
    # ...and the page shows the server's turn about that axis
    turned = state["readouts"]["turned_rad"]
    assert isinstance(turned, float) and np.isfinite(turned)
    wait_for(lambda: page.get_by_test_id("turned").inner_text() != "n/a")
    page.get_by_test_id("stop").click()
    wait_for(lambda: not api_state(url)["running"], what="stop")
    held = session.base_targets.copy()
    time.sleep(0.3)
    assert np.array_equal(session.base_targets, held)


def test_a_malformed_message_is_refused_and_the_server_keeps_serving(page, teleop):
    _, url = teleop
    refused_before = api_state(url)["refused_messages"]
    replies = page.evaluate(
        """() => new Promise((resolve) => {
            const ws = new WebSocket(`ws://${location.host}/ws`);
            const got = [];
            ws.onopen = () => {
                ws.send('{"type": "set_axis", "axis": "sideways"');   // not JSON
                ws.send(JSON.stringify({type: 'launch'}));           // unknown type
                ws.send(JSON.stringify({type: 'set_axis', axis: '+z'}));
            };
            ws.onmessage = (e) => {
                const m = JSON.parse(e.data);
                if (m.type === 'error') got.push(m.error);
                if (m.type === 'state' && m.axis_label === '+z' && got.length >= 2) {
                    ws.close();
                    resolve(got);
                }
            };
            setTimeout(() => resolve(got), 8000);
        })"""
    )
    assert len(replies) == 2 and "not JSON" in replies[0] and "unknown message type" in replies[1]
    assert api_state(url)["refused_messages"] == refused_before + 2
    # the page's own connection kept getting ticks, and the valid command went through
    states = page.evaluate("dexndm.states")
    wait_for(lambda: page.evaluate("dexndm.states") > states + 5, what="more ticks on the page")
    assert api_state(url)["axis_label"] == "+z"


def test_the_page_reports_a_refused_command(page, teleop):
    page.evaluate("dexndm.send({type: 'set_residual', enabled: true})")
    wait_for(lambda: page.evaluate("dexndm.errors.length") > 0, what="the error reply")
    assert "no residual loaded" in page.evaluate("dexndm.errors[0]")
    assert page.get_by_test_id("error").is_visible()
    assert page.get_by_test_id("residual").is_disabled()
    assert "--residual" in page.locator("#residual-label").get_attribute("title")


def test_a_wrist_preset_regrasps_at_that_orientation(page, teleop):
    session, url = teleop
    page.locator('[data-testid="wrist-thumb_down"]').click()
    s = np.sqrt(0.5)
    wait_for(lambda: np.allclose(api_state(url)["wrist"], [s, s, 0, 0], atol=1e-5), 30.0, "wrist thumb_down")
    np.testing.assert_allclose(session.driver.env.wrist_quat[0], [s, s, 0, 0], atol=1e-6)
    page.get_by_test_id("gizmo").click()
    assert page.get_by_test_id("gizmo").get_attribute("aria-pressed") == "true"
    page.locator('[data-testid="wrist-palm_up"]').click()
    wait_for(lambda: api_state(url)["wrist_label"] == "palm_up", 30.0, "wrist palm_up")


def test_the_free_rotation_gizmo_turns_the_wrist(page, teleop):
    _, url = teleop
    page.locator('[data-testid="wrist-palm_up"]').click()
    wait_for(lambda: api_state(url)["wrist_label"] == "palm_up", 30.0, "wrist palm_up")
    page.get_by_test_id("gizmo").click()
    cx, cy = page.evaluate(
        """() => {
            const v = dexndm.wristHandle.position.clone().project(dexndm.camera);
            const r = document.getElementById('scene').getBoundingClientRect();
            return [r.left + (v.x + 1) / 2 * r.width, r.top + (1 - v.y) / 2 * r.height];
        }"""
    )
    for dx in range(30, 260, 3):  # the ring about world z, to the right of the handle's centre
        page.mouse.move(cx + dx, cy)
        if page.evaluate("dexndm.gizmo.axis") == "Z":
            break
    else:
        raise AssertionError("the gizmo's z ring was not found right of the wrist")
    page.mouse.down()
    page.mouse.move(cx + dx - 30, cy + 40, steps=8)
    page.mouse.up()
    wait_for(lambda: api_state(url)["wrist_label"] != "palm_up", 30.0, "a free wrist (and its grasps)")
    w = np.array(api_state(url)["wrist"])
    # a turn about world z only, by a visible angle
    assert abs(w[1]) < 1e-6 and abs(w[2]) < 1e-6 and abs(w[3]) > 0.1, w


@pytest.mark.parametrize("viewport", [LAPTOP, TABLET], ids=["laptop", "tablet"])
def test_the_layout_fits_laptops_and_tablets(browser, teleop, viewport):
    _, url = teleop
    context = browser.new_context(viewport=viewport, has_touch=viewport is TABLET)
    pg = context.new_page()
    pg.goto(url)
    pg.wait_for_function("window.dexndm && window.dexndm.ready", timeout=20000)
    view = pg.locator("#view").bounding_box()
    panel = pg.locator("#panel").bounding_box()
    if viewport is LAPTOP:
        assert panel["x"] >= view["x"] + view["width"] - 1 and view["width"] > 600  # side by side
    else:
        assert panel["y"] >= view["y"] + view["height"] - 1 and view["height"] > 400  # stacked
    assert pg.evaluate("document.documentElement.scrollWidth") <= viewport["width"]  # no sideways scroll
    start = pg.get_by_test_id("start").bounding_box()
    assert start["height"] >= 40  # a finger can hit it
    context.close()


# ---- dexndm view --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def replay_url() -> Iterator[str]:
    frames = 60
    angles = np.linspace(0.0, 3.0, frames)
    replay = Replay(
        "a turning cube", "cube", np.array([1.0, 0, 0, 0]),
        joint_pos=np.tile(np.linspace(0.0, 0.6, frames)[:, None], (1, 16)),
        object_pos=np.tile([0.0, 0.0, 0.5], (frames, 1)),
        object_quat=quat_from_axis_angle(np.tile([0.0, 0.0, 1.0], (frames, 1)), angles),
        axis=np.array([0.0, 0.0, 1.0]), notes={"source": "test"},
    )  # fmt: skip
    server, url = serve(replay)
    yield url
    server.stop()


def test_view_plays_pauses_scrubs_and_changes_speed(browser, replay_url):
    context = browser.new_context(viewport=LAPTOP)
    pg = context.new_page()
    pg.goto(replay_url)
    pg.wait_for_function("window.dexndm && window.dexndm.ready", timeout=20000)
    assert pg.evaluate("dexndm.mode") == "view" and pg.evaluate("dexndm.frame") == 0
    assert not pg.get_by_test_id("start").is_visible()  # no teleop controls in a replay
    pg.get_by_test_id("play").click()
    wait_for(lambda: pg.evaluate("dexndm.frame") >= 5, what="playback")
    pg.get_by_test_id("play").click()  # pause
    paused_at = pg.evaluate("dexndm.frame")
    time.sleep(0.4)
    assert pg.evaluate("dexndm.frame") == paused_at and pg.get_by_test_id("play").inner_text() == "Play"
    pg.get_by_test_id("scrub").fill("30")
    assert pg.evaluate("dexndm.frame") == 30
    # frame 30 of a 3 rad turn over 59 intervals
    assert pg.get_by_test_id("turned").inner_text() == f"{3.0 * 30 / 59:.2f} rad"
    # 4x: the recording's 20 frames/s play at about 80; 40 frames take ~0.5 s (2 s at 1x)
    pg.get_by_test_id("scrub").fill("0")
    pg.get_by_test_id("speed").select_option("4")
    pg.get_by_test_id("play").click()
    t0 = time.monotonic()
    wait_for(lambda: pg.evaluate("dexndm.frame") >= 40, 5.0, "40 frames")
    assert time.monotonic() - t0 < 1.0  # faster than 2x
    wait_for(lambda: pg.evaluate("dexndm.frame") == 59, 5.0, "the end of the replay")
    wait_for(lambda: pg.get_by_test_id("play").inner_text() == "Play", 2.0, "a stop at the end")
    # a replay takes no commands
    pg.evaluate("dexndm.send({type: 'start'})")
    wait_for(lambda: pg.evaluate("dexndm.errors.length") > 0, what="the refusal")
    assert "replays a recording" in pg.evaluate("dexndm.errors[0]")
    context.close()


# ---- with a trained policy ---------------------------------------------------------------------
@contextlib.contextmanager
def _trained_page(
    browser, grasp_cache, obj: str, open_hand: bool
) -> Iterator[tuple[TeleopSession, str, Any]]:
    """The shipped generalist (or ``DEXNDM_TELEOP_POLICY``) on the training sim, served, with a
    loaded page; yields ``(session, url, page)`` and tears everything down."""
    checkpoint = os.environ.get("DEXNDM_TELEOP_POLICY", str(SHIPPED_GENERALIST))
    driver = SimEnvDriver(grasp_candidates=32, grasp_cache_dir=grasp_cache)
    config = TeleopConfig(object=obj, axis="+z", open_hand=open_hand)
    session = TeleopSession(driver, load_policy(checkpoint), config=config)
    server, url = serve(session)
    session.start_thread()
    context = browser.new_context(viewport=LAPTOP)
    try:
        pg = context.new_page()
        pg.goto(url)
        pg.wait_for_function("window.dexndm && window.dexndm.ready", timeout=20000)
        yield session, url, pg
    finally:
        context.close()
        server.stop()
        session.close()


def test_a_trained_policy_grasps_from_an_open_hand(browser, grasp_cache):
    """From an open hand, the object held by the operator, the shipped generalist closes the hand
    and keeps the object once the operator lets go (an unseen normal cylinder, palm up)."""
    with _trained_page(browser, grasp_cache, "normal_cylinder/05", open_hand=True) as (session, url, pg):
        state = api_state(url)
        assert state["held"] and "press start to grasp" in state["status"]
        pg.get_by_test_id("start").click()
        wait_for(lambda: "closing" in api_state(url)["status"], 5.0, "the policy closing the hand")
        wait_for(lambda: not api_state(url)["held"], session.config.let_go_s + 5.0, "the operator letting go")
        time.sleep(2.0)
        state = api_state(url)
        # still in the hand 2 s after the operator let go: running, no drop, the clock not restarted
        assert state["running"] and not state["held"] and "let go" in state["status"], state["status"]
        assert state["readouts"]["time_since_grasp_s"] >= 1.9
        wait_for(lambda: "let go" in pg.get_by_test_id("status").inner_text(), 5.0, "the page's status")


def test_a_trained_policy_turns_the_object(browser, grasp_cache):
    """Starting a real rotation policy turns the object about the chosen axis (the angle grows)."""
    # an unseen (test-split) normal cylinder: the shipped generalist's category, palm up about +z,
    # from a cached grasp (after an open-hand grasp the generalist turns ~5x slower: its card)
    obj = os.environ.get("DEXNDM_TELEOP_OBJECT", "normal_cylinder/02")
    with _trained_page(browser, grasp_cache, obj, open_hand=False) as (_, url, pg):
        pg.get_by_test_id("start").click()
        # readouts every 0.5 s for 6 s; a drop regrasps and restarts the count, so only the
        # readings of the first grasp count
        readings = []
        for _ in range(12):
            time.sleep(0.5)
            r = api_state(url)["readouts"]
            readings.append((r["time_since_grasp_s"], r["turned_rad"]))
        held = [readings[0]]
        for reading in readings[1:]:
            if reading[0] < held[-1][0]:
                break
            held.append(reading)
        turned = [a for _, a in held]
        rising = sum(b > a for a, b in zip(turned, turned[1:], strict=False))
        assert len(held) >= 4, f"dropped within 2 s: {readings}"
        # the hold policy turns a cylinder ~0.02 rad in this time; the shipped generalist turns this
        # one at about 0.06 rad/s in its first seconds (0.19-0.24 rad over 3.5-4 s measured here,
        # and 0.064 rad/s in `evaluate` over the first 5 s in the training sim), so 0.3 over 5.5 s
        assert turned[-1] - turned[0] > 0.15 and rising >= len(held) - 2, readings
