"""Headless Chromium for the reports' browser tests and benchmarks/reports.py: Debian's ``chromium``
driven by Playwright for Python (never a browser Playwright downloads itself).

``RELIEFLINK_CHROMIUM`` names another executable. In CI (``CI=1`` or
``RELIEFLINK_REQUIRE_BROWSER=1``, set by ``.ci/run``) a missing browser is a
failure, elsewhere a skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import Iterator

#: the flags for root on a closed network: no sandbox, no GPU, nothing that phones home
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def required() -> bool:
    return os.environ.get("CI") == "1" or os.environ.get("RELIEFLINK_REQUIRE_BROWSER") == "1"


def chromium_path() -> str | None:
    explicit = os.environ.get("RELIEFLINK_CHROMIUM")
    if explicit:
        return explicit
    return shutil.which("chromium") or shutil.which("chromium-browser")


def unavailable() -> str | None:
    """Why the browser cannot be used here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        return "chromium is not installed (apt-get install -y chromium)"
    return None


@contextmanager
def chromium(width: int = 1366, height: int = 900) -> Iterator[object]:
    """A fresh headless Chromium context (its own profile folder), viewport ``width`` × ``height``."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="relieflink-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=chromium_path(), headless=True, args=ARGS,
                viewport={"width": width, "height": height}, accept_downloads=True)
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def watch_console(page) -> list[str]:
    """Collect the page's console errors and uncaught exceptions (the list fills as the page runs)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    return errors


def open_report(page, path, timeout_ms: int = 60_000) -> int:
    """Open a report file and wait for its explorer's first page; returns the page's own
    milliseconds from navigation start to the first page drawn."""
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("html[data-rl-ready]", timeout=timeout_ms)
    return int(page.get_attribute("html", "data-rl-ready"))
