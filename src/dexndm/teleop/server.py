"""The web server of ``dexndm teleop`` and ``dexndm view``: one page, one websocket, a JSON API.

Routes::

    GET /              the page (static/index.html; its script and the bundled three.js)
    GET /ws            the websocket (protocol: dexndm.teleop.messages)
    GET /api/state     the session's latest state and the control loop's timing, as JSON
    GET /schema.json   the JSON Schema of page -> server commands

aiohttp runs on its own thread with its own event loop; the control loop runs on the session's
thread. Ticks reach the pages through ``call_soon_threadsafe``; each page gets the newest state
only (a slow tablet skips ticks instead of lagging behind), while errors and new scenes are
queued and always delivered. The server binds 127.0.0.1 unless told otherwise: whoever reaches
the port can move the hand. Browsers' cross-site websocket requests (an ``Origin`` that is not
this server) are refused for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from dexndm.teleop import DEFAULT_HOST, DEFAULT_PORT
from dexndm.teleop.messages import COMMAND_SCHEMA, MessageError, encode, parse_command
from dexndm.teleop.replay import Replay
from dexndm.teleop.session import TeleopSession

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


@dataclass(eq=False)
class _Page:
    """One connected page: the newest state (overwritten every tick) and the messages it must get."""

    ws: web.WebSocketResponse
    peer: str
    latest: str | None = None
    urgent: deque[str] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    scene_version: int = -1


class PageServer:
    """Serves a :class:`TeleopSession` (teleoperation) or a :class:`Replay` (``dexndm view``).

    Args:
        source: what the page shows.
        host: interface to bind; 127.0.0.1 (this machine only) unless you mean to share the hand.
        port: TCP port; 0 picks a free one (see :attr:`url` after :meth:`start`).
        choices: extra JSON for the page's pickers (e.g. ``{"objects": [...]}``).
    """

    def __init__(
        self,
        source: TeleopSession | Replay,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        choices: dict[str, Any] | None = None,
    ):
        self.source = source
        self.host = host
        self.port = port
        self.choices = dict(choices or {})
        self.pages: set[_Page] = set()
        self.refused_messages = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def mode(self) -> str:
        return "teleop" if isinstance(self.source, TeleopSession) else "view"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/"

    # ---- life cycle -----------------------------------------------------------------------------
    def start(self) -> str:
        """Serve on a background thread; returns the page's URL once the port is bound.

        Raises:
            OSError: the port is taken (or the host cannot be bound).
        """
        self._thread = threading.Thread(target=self._serve, name="teleop-http", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30.0)
        if self._startup_error is not None:
            raise self._startup_error
        if not self._ready.is_set():
            raise RuntimeError("the web server did not start within 30 s")
        if isinstance(self.source, TeleopSession):
            self.source.add_listener(self._on_tick)
        return self.url

    def stop(self) -> None:
        """Close every page's connection and stop serving."""
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None

    def serve_until_interrupted(self) -> None:
        """Block until Ctrl-C (or the server stops by itself); call after :meth:`start`."""
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
        except KeyboardInterrupt:
            pass

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as e:  # reported to start(); the thread ends
            if not self._ready.is_set():
                self._startup_error = e
                self._ready.set()
            else:
                log.exception("the web server stopped")
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/api/state", self._api_state)
        app.router.add_get("/schema.json", self._schema)
        app.router.add_get("/favicon.ico", self._no_content)
        app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # bind the socket ourselves so that port 0 (any free port) can be read back
        family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((self.host, self.port), family=family)
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()
        log.info("serving %s on %s", self.mode, self.url)
        self._ready.set()
        await self._stopping.wait()
        for page in list(self.pages):
            await page.ws.close()
        await self._runner.cleanup()

    # ---- HTTP -----------------------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def _no_content(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _schema(self, request: web.Request) -> web.Response:
        return web.json_response(COMMAND_SCHEMA)

    async def _api_state(self, request: web.Request) -> web.Response:
        if isinstance(self.source, TeleopSession):
            body = {"mode": "teleop", **self.source.snapshot(), "loop": self.source.loop_stats()}
        else:
            body = {"mode": "view", **self.source.info()}
        body["refused_messages"] = self.refused_messages
        return web.Response(text=encode("state", **body), content_type="application/json")

    # ---- the websocket --------------------------------------------------------------------------
    def _same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        # non-browser clients send no Origin; a browser always does
        return origin is None or urlsplit(origin).netloc == request.host

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            log.warning("refused a websocket from origin %s", request.headers.get("Origin"))
            return web.Response(status=403, text="cross-origin websocket refused")
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=1 << 16)
        await ws.prepare(request)
        page = _Page(ws, request.remote or "?")
        self.pages.add(page)
        sender = asyncio.create_task(self._send_loop(page))
        try:
            await ws.send_str(self._hello(page))
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._receive(page, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._refuse(page, "binary message refused: send JSON text", "<binary>")
                elif msg.type == WSMsgType.ERROR:
                    log.warning("websocket error from %s: %s", page.peer, ws.exception())
        finally:
            self.pages.discard(page)
            sender.cancel()
        return ws

    def _hello(self, page: _Page) -> str:
        if isinstance(self.source, TeleopSession):
            snap = self.source.snapshot()
            page.scene_version = snap.get("scene_version", 0)
            return encode(
                "hello", mode="teleop", scene=self.source.geometry(), state=snap, choices=self.choices,
                schema="/schema.json",
            )  # fmt: skip
        return encode("hello", mode="view", scene=self.source.geometry(), replay=self.source.frames())

    def _receive(self, page: _Page, text: str) -> None:
        if not isinstance(self.source, TeleopSession):
            self._refuse(page, "this page replays a recording (dexndm view): it takes no commands", text)
            return
        try:
            command = parse_command(text)
        except MessageError as e:
            self._refuse(page, str(e), text)
            return
        loop = self._loop
        assert loop is not None

        def reply(error: str) -> None:  # called on the control thread
            loop.call_soon_threadsafe(self._push_urgent, page, encode("error", error=error))

        self.source.submit(command, reply)

    def _refuse(self, page: _Page, error: str, text: str) -> None:
        self.refused_messages += 1
        log.warning("refused a message from %s: %s (%.80r)", page.peer, error, text)
        self._push_urgent(page, encode("error", error=error, received=text[:200]))

    def _push_urgent(self, page: _Page, text: str) -> None:
        page.urgent.append(text)
        page.wake.set()

    def _on_tick(self, snapshot: dict[str, Any]) -> None:  # the control thread
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            loop.call_soon_threadsafe(self._fan_out, snapshot)

    def _fan_out(self, snapshot: dict[str, Any]) -> None:
        text = encode("state", **snapshot)
        version = snapshot.get("scene_version", 0)
        for page in self.pages:
            if page.scene_version != version and isinstance(self.source, TeleopSession):
                page.scene_version = version
                page.urgent.append(encode("scene", scene=self.source.geometry()))
            page.latest = text
            page.wake.set()

    async def _send_loop(self, page: _Page) -> None:
        try:
            while not page.ws.closed:
                await page.wake.wait()
                page.wake.clear()
                while page.urgent:
                    await page.ws.send_str(page.urgent.popleft())
                if page.latest is not None:
                    text, page.latest = page.latest, None
                    await page.ws.send_str(text)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
