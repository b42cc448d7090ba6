"""The server without a browser: bind address, JSON API, refused messages, cross-site sockets."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import aiohttp
import pytest
from fakes.hand import FakeHand

from dexndm.eval.policies import HoldPolicy
from dexndm.teleop.drivers import RealHandDriver
from dexndm.teleop.messages import COMMANDS
from dexndm.teleop.server import PageServer
from dexndm.teleop.session import TeleopSession


@pytest.fixture
def served(grasp_cache):
    driver = RealHandDriver(FakeHand(), grasp_candidates=32, grasp_cache_dir=grasp_cache)
    session = TeleopSession(driver, HoldPolicy())
    server = PageServer(session, port=0)
    session.start_thread()
    server.start()
    yield server, session
    server.stop()
    session.close()


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def test_binds_localhost_by_default_and_serves_page_api_and_schema(served):
    server, _ = served
    assert server.host == "127.0.0.1" and server.url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(server.url, timeout=10) as r:
        assert b'<canvas id="scene"' in r.read()
    with urllib.request.urlopen(server.url + "static/vendor/three.bundle.min.js", timeout=10) as r:
        assert b"Three.js Authors" in r.read(400)  # the bundled library, license header first
    state = get_json(server.url + "api/state")
    assert state["mode"] == "teleop" and state["loop"]["target_hz"] == 20.0
    schema = get_json(server.url + "schema.json")
    assert {v["properties"]["type"]["const"] for v in schema["oneOf"]} == set(COMMANDS)


async def _exchange(url: str, messages: list[str], origin: str | None = None) -> list[dict]:
    """Connect, read hello, send ``messages``, and collect replies for a moment."""
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "ws", headers=headers) as ws:
        hello = json.loads((await ws.receive(timeout=10)).data)
        replies = [hello]
        for text in messages:
            await ws.send_str(text)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                msg = await ws.receive(timeout=0.2)
            except TimeoutError:
                continue
            replies.append(json.loads(msg.data))
        return replies


def test_malformed_messages_get_an_error_and_the_server_keeps_serving(served):
    server, session = served
    replies = asyncio.run(
        _exchange(
            server.url, ["{oops", '{"type": "set_axis", "axis": "up"}', '{"type": "set_axis", "axis": "-y"}']
        )
    )
    assert replies[0]["type"] == "hello" and replies[0]["mode"] == "teleop"
    errors = [r for r in replies if r["type"] == "error"]
    assert len(errors) == 2 and "not JSON" in errors[0]["error"] and "unknown axis" in errors[1]["error"]
    assert errors[0]["received"] == "{oops"
    states = [r for r in replies if r["type"] == "state"]
    assert len(states) >= 5 and states[-1]["axis_label"] == "-y"  # the valid command after them worked
    assert get_json(server.url + "api/state")["refused_messages"] == 2


def test_a_command_the_session_refuses_is_reported_to_its_page(served):
    server, _ = served
    replies = asyncio.run(_exchange(server.url, ['{"type": "set_residual", "enabled": true}']))
    errors = [r for r in replies if r["type"] == "error"]
    assert errors and "no residual loaded" in errors[0]["error"]


def test_websockets_from_another_site_are_refused(served):
    server, _ = served
    with pytest.raises(aiohttp.WSServerHandshakeError) as e:
        asyncio.run(_exchange(server.url, [], origin="http://attacker.example"))
    assert e.value.status == 403
    # the page's own origin is fine
    assert asyncio.run(_exchange(server.url, [], origin=server.url.rstrip("/")))[0]["type"] == "hello"
