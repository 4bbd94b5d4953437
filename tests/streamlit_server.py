"""Start ``streamlit run app.py`` on a free port and drive it with Debian's chromium (shared by the browser
tests and ``benchmarks/bench_app_training.py``). Never ``playwright install``: the system chromium is used."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(home: Path, log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """A headless Streamlit server of this app with its own ``DQN_SIM_HOME``; yields its base URL. ``env``: more
    environment for the server (e.g. ``DQN_SIM_MAX_JOBS``, its training slots)."""
    port = free_port()
    env = {**os.environ, **(env or {}), "DQN_SIM_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_healthy(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url}/_stcore/health did not answer within {START_TIMEOUT_S:.0f}s")


def launch_chromium(playwright, executable: Path = CHROMIUM):  # -> playwright Browser
    return playwright.chromium.launch(executable_path=str(executable), headless=True, args=CHROMIUM_ARGS)


def wait_idle(page, timeout_ms: float = 60_000) -> None:
    """Wait until the app has finished its current script run."""
    page.wait_for_selector(IDLE, timeout=timeout_ms)


def goto_page(page, title: str) -> None:
    """Open a page through the sidebar navigation and wait for its title."""
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title, level=1).wait_for()
    wait_idle(page)


def start_training(page, settings: dict[str, int]) -> None:
    """On the Train page: fill the Run tab of the settings and press Start training."""
    for label, value in settings.items():
        page.get_by_role("spinbutton", name=label, exact=True).fill(str(value))
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url("**run=*")


def progress_steps(page, area: str = "stSidebar") -> int:
    """Steps done, read off a progress bar ('1,234 / 50,000 steps ...'): the sidebar's (every page), or
    ``stMain`` for the Train page's own, which refreshes faster."""
    text = page.locator(f"[data-testid='{area}'] [data-testid='stProgress']").first.inner_text()
    return int(text.split("/")[0].replace(",", "").strip())
