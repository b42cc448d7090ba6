"""Fixtures for the teleop tests: a real headless Chromium driven by Playwright.

The browser is Debian's ``chromium`` (``make system-deps`` installs it; set ``DEXNDM_CHROMIUM``
to use another build): Playwright's own browser download needs a host this project cannot
reach. Without a browser the browser tests fail in CI (``CI`` set) and are skipped, with the
reason, elsewhere.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# software WebGL: CI machines and this one have no GPU
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def find_chromium() -> str | None:
    """The Chromium binary: ``DEXNDM_CHROMIUM``, else Debian's, else one on PATH."""
    candidates = [os.environ.get("DEXNDM_CHROMIUM"), "/usr/lib/chromium/chromium"]
    candidates += [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


def _unavailable(reason: str) -> None:
    message = (
        f"{reason}; install it with `make system-deps` (apt-get install chromium) or set DEXNDM_CHROMIUM"
    )
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing (pip install -e '.[dev]')")
    path = find_chromium()
    if path is None:
        _unavailable("no Chromium found")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
