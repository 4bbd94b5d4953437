"""Shared fixtures: every test gets its own store home; the real-browser tests share one Streamlit server
and one chromium for the whole session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.streamlit_server import CHROMIUM, launch_chromium, serve_app

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs and saved scenarios go to a fresh ``DQN_SIM_HOME``, never the user's ``~/.dqn_sim``."""
    home = tmp_path / "dqn_sim_home"
    monkeypatch.setenv("DQN_SIM_HOME", str(home))
    return home


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """As in a training process: more torch threads only contend on a shared machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def window(browser, app_url: str) -> Iterator:
    """A 1440x900 tab of the shared studio, at its home page, with a generous timeout for a busy machine."""
    from tests.streamlit_server import wait_idle

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    tab.goto(app_url)
    wait_idle(tab)
    yield tab
    context.close()


@pytest.fixture(scope="session")
def app_home(tmp_path_factory) -> Path:
    """The browser tests' studio's ``DQN_SIM_HOME`` (a test may train into it with the CLI)."""
    return tmp_path_factory.mktemp("dqn_sim_home")


@pytest.fixture(scope="session")
def app_url(app_home: Path) -> Iterator[str]:
    """``streamlit run app.py`` headless on a free port, healthy before the first test uses it."""
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app(app_home, ARTIFACTS / "server.log") as url:
        yield url


def app_with_slots(tmp_path_factory, label: str, slots: int) -> Iterator[str]:
    """A studio server of a test module's own: ``slots`` training slots whatever the machine's cores, its own
    stores, its log in ``artifacts/server_<label>.log``. Use as ``yield from`` in a module-scoped fixture."""
    ARTIFACTS.mkdir(exist_ok=True)
    home: Path = tmp_path_factory.mktemp(f"{label}_home")
    with serve_app(home, ARTIFACTS / f"server_{label}.log", env={"DQN_SIM_MAX_JOBS": str(slots)}) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("DQN_SIM_REQUIRE_BROWSER"):  # CI: the browser tests must run, never skip
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_url: str) -> Iterator:
    """A fresh browser tab (its own Streamlit session) at the app's home page."""
    context = browser.new_context(viewport={"width": 1440, "height": 1800})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()
