"""The studio's upload handlers (a scenario's JSON, a run's zip, a calibration log) answer any bad file with one line
and never a traceback, and a name that came with a file is shown as text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.errors import MAX_ERROR_CHARS
from dqn_sim.presets import get_preset
from dqn_sim.store import RunStore, StoreError
from tests.test_app import APP, TIMEOUT, open_page, texts
from ui import history
from ui.fmt import plain

MARKDOWN_NAME = "![img](https://example.invalid/pixel.png) \x1b[31mred\x1b[0m :red[x]"


@pytest.fixture(autouse=True)
def fresh_app() -> Iterator[None]:
    st.cache_resource.clear()  # the app's store is a cached resource: each test gets its own home's
    yield
    st.cache_resource.clear()


def one_error(at: AppTest, starts: str) -> str:
    assert not at.exception
    [error] = [e for e in texts(at.error) if e.startswith(starts)]
    assert "\n" not in error and len(error) <= MAX_ERROR_CHARS + 100 and "Traceback" not in error
    return error


@pytest.mark.parametrize(("content", "says"), [
    (b"[" * 100_000 + b"]" * 100_000, "maximum recursion depth"),
    (json.dumps({"catalogue": 5}).encode(), "catalogue must be an object"),
    (b'{"dynamics": {"affinity_weight": 1' + b"0" * 400 + b"}}", "dynamics.affinity_weight must be a number"),
    (b"\xff\xfe\x00 not text", "cannot read JSON"),
], ids=["deep", "not an object", "huge number", "binary"])
def test_a_bad_scenario_file_gets_one_line(content: bytes, says: str) -> None:
    at = open_page()
    before = at.session_state["scenario"]
    at.file_uploader(key="scenario:upload").set_value(("bad.json", content, "application/json")).run()
    assert says in one_error(at, "bad.json was not loaded: ")
    assert at.session_state["scenario"] == before


def test_a_run_zip_the_store_cannot_take_gets_one_line(monkeypatch) -> None:
    def busy(self: RunStore, path: object) -> str:
        raise StoreError("the run store /x/runs.sqlite3 is busy: another process held its write lock for 10 s")

    monkeypatch.setattr(RunStore, "import_zip", busy)
    at = open_page("pages/runs.py")
    at.file_uploader(key="runs:import").set_value(("run.zip", b"PK\x05\x06" + b"\x00" * 18, "application/zip")).run()
    assert "is busy" in one_error(at, "Not imported: ")


def test_an_imported_run_named_in_markdown_is_shown_as_text(isolated_home: Path, tmp_path: Path) -> None:
    with RunStore(isolated_home) as store:
        run_id = store.create_run(name=MARKDOWN_NAME, scenario=get_preset("video"), agent=AgentConfig(),
                                  train=TrainConfig(), seed=0)
        store.set_status(run_id, "stopped")
    data = history.export_bytes(run_id)
    at = open_page("pages/runs.py")
    at.file_uploader(key="runs:import").set_value(("named.zip", data, "application/zip")).run()
    assert not at.exception
    [note] = [s for s in texts(at.success) if s.startswith("Imported ")]
    assert "!\\[img\\](https" in note and "![img](" not in note and "\x1b" not in note and "\\:red\\[x\\]" in note
    assert f"**{plain(MARKDOWN_NAME)}**" in texts(at.markdown)  # the picked run's title


def test_a_calibration_upload_named_dot_dot_gets_one_line() -> None:
    """The browser names the file: '..' once wrote into the parent of the upload folder (IsADirectoryError)."""
    at = open_page()
    at.file_uploader(key="calibration:ratings_upload").set_value(("..", b"\x00garbage\xff", "text/plain")).run()
    assert not at.exception
    at.button(key="calibration:run").click().run()
    assert "/upload:1: missing column for user, item" in one_error(at, "/")


def test_an_unusable_store_is_said_in_one_line(tmp_path: Path, monkeypatch) -> None:
    """A home that is a file (or a read-only or newer store): the studio says which store and why, where it showed
    Streamlit's redacted 'This app has encountered an error'."""
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("DQN_SIM_HOME", str(tmp_path / "file"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert f"cannot use the run store at {tmp_path / 'file'}" in one_error(at, "The run store cannot be used: ")
