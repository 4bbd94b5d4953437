"""The Sweep page through Streamlit's AppTest: knobs and ranges from the metadata, a bad range refused under its
field, a real sweep started and followed to its end, and the best trial's settings taken to Train.

The page runs in a small app of its own (the studio's navigation lists it once app.py does), so the switch to
Train is recorded rather than made. AppTest never fires
``run_every`` timers: the test polls by calling ``at.run()`` again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dqn_sim import memory
from dqn_sim.assembly import assemble
from dqn_sim.config import TrainConfig
from dqn_sim.sweep import study as studies
from dqn_sim.sweep import trial
from dqn_sim.sweep.background import SweepJob
from dqn_sim.sweep.space import parse_params
from dqn_sim.sweep.spec import SweepSpec
from tests.test_registry import GatedExecutor
from tests.test_sweep import TINY, pytestmark  # noqa: F401  (pytestmark: the same warning filters)
from ui import sweep_page
from ui.state import registry

PAGE = Path(__file__).resolve().parent.parent / "pages" / "sweep.py"
APP = f"""
import streamlit as st
st.navigation([st.Page({str(PAGE)!r})]).run()
"""
TIMEOUT = 60


@pytest.fixture(autouse=True)
def fresh_app() -> Iterator[None]:
    st.cache_resource.clear()
    yield
    for job in sweep_page.sweeps().values():
        job.stop()
        job.join(TIMEOUT)
    st.cache_resource.clear()


@pytest.fixture
def at(tmp_path: Path) -> AppTest:
    app = tmp_path / "sweep_app.py"
    app.write_text(APP)
    at = AppTest.from_file(str(app), default_timeout=TIMEOUT)
    run = assemble("video", None, TINY)
    at.session_state["scenario"], at.session_state["agent_cfg"], at.session_state["train_cfg"] = (
        run.scenario, run.agent, run.train)
    return at.run()


def test_a_bad_range_is_refused_under_its_field_and_start_waits(at):
    assert not at.exception
    assert at.text_input(key="sweep:range:agent.lr").value == "1e-07:1:log"  # the knob's whole range, in log
    at.text_input(key="sweep:range:agent.gamma").set_value("0.99:0.8").run()
    assert "the range's low end 0.99 must be below its high end 0.8" in at.error[0].value
    assert at.button(key="sweep:start").disabled


def test_a_sweep_started_here_runs_to_its_end_and_its_best_goes_to_train(at, monkeypatch):
    switched = []
    monkeypatch.setattr(st, "switch_page", switched.append)
    at.multiselect(key="sweep:knobs").set_value(["agent.lr"])
    at.run()
    at.text_input(key="sweep:range:agent.lr").set_value("1e-4:3e-3:log")
    at.number_input(key="sweep:trials").set_value(2)
    at.number_input(key="sweep:steps").set_value(1024)
    at.number_input(key="sweep:parallel").set_value(2)
    at.text_input(key="sweep:name").set_value("from-the-page")
    at.button(key="sweep:start").click().run()
    assert not at.exception
    job, deadline = sweep_page.sweeps()["from-the-page"], time.monotonic() + TIMEOUT
    assert registry().running_count() == 2  # two trials at once: two of the server's training slots
    while not job.join(0.5):
        assert time.monotonic() < deadline, "the sweep did not finish"
    at.run()
    assert job.state == "finished" and not at.exception
    assert registry().running_count() == 0
    table = at.dataframe[0].value
    assert list(table.state) == ["complete", "complete"] and table["agent.lr"].between(1e-4, 3e-3).all()
    assert "sweep:resume" not in [b.key for b in at.button]  # nothing is left to resume
    best = table.loc[table.value.idxmax(), "agent.lr"]
    at.button(key="sweep:train-best").click().run()
    assert not at.exception and switched == ["pages/train.py"]
    assert at.session_state["agent_cfg"].lr == pytest.approx(best)
    assert at.session_state["train_cfg"].total_steps == TrainConfig().total_steps  # the settings' budget, not 1024


def test_a_sweep_too_big_for_memory_is_refused_and_nothing_starts(tmp_path, monkeypatch):
    """The page started trials without the estimate Train applies: 4 seeds of a million users each."""
    monkeypatch.setenv(memory.LIMIT_ENV, "300")
    monkeypatch.setattr(trial, "run_trial", lambda *args: pytest.fail("a trial started"))
    app = tmp_path / "sweep_app.py"
    app.write_text(APP)
    at = AppTest.from_file(str(app), default_timeout=TIMEOUT)
    run = assemble("video", None, [*TINY, "audience.n_users=1000000"])
    at.session_state["scenario"], at.session_state["agent_cfg"], at.session_state["train_cfg"] = (
        run.scenario, run.agent, run.train)
    at.run()
    at.number_input(key="sweep:seeds").set_value(4)
    at.number_input(key="sweep:parallel").set_value(1)
    at.button(key="sweep:start").click().run()
    assert not at.exception
    assert any("4 training runs at once would need about" in e.value and "above the limit of 300 MB" in e.value
               and "the biggest part is the world" in e.value for e in at.error)
    assert not sweep_page.sweeps() and registry().running_count() == 0
    assert any("No sweeps yet" in i.value for i in at.info)  # nothing stored either


def test_a_resume_too_big_for_memory_is_refused_with_its_reason(tmp_path, monkeypatch):
    """Resume runs the same memory check as Start; it raised it as a traceback in the page."""
    monkeypatch.setattr(trial, "run_trial", lambda *args: pytest.fail("a trial started"))
    spec = SweepSpec(name="too-big", preset="video", config=None, overrides=(*TINY, "audience.n_users=1000000"),
                     params=parse_params(["agent.lr=1e-4:1e-3"]), seeds=4, first_seed=0, steps=1024)
    studies.create(spec, sweep_page.storage_url()).set_user_attr(studies.TRIALS_ATTR, 2)  # stopped at 0 of 2
    monkeypatch.setenv(memory.LIMIT_ENV, "300")
    app = tmp_path / "sweep_app.py"
    app.write_text(APP)
    at = AppTest.from_file(str(app), default_timeout=TIMEOUT).run()
    at.button(key="sweep:resume").click().run()
    assert not at.exception
    assert any("above the limit of 300 MB" in e.value for e in at.error)
    assert not sweep_page.sweeps() and registry().running_count() == 0


def test_the_form_is_kept_when_another_page_is_shown_and_back(tmp_path):
    """Streamlit drops a widget's state when a run does not draw it (another page): the form comes back as it was."""
    other = tmp_path / "elsewhere.py"
    other.write_text("import streamlit as st\nst.write('elsewhere')\n")
    app = tmp_path / "two_pages.py"
    app.write_text(f"import streamlit as st\nst.navigation([st.Page({str(PAGE)!r}), st.Page({str(other)!r})]).run()\n")
    at = AppTest.from_file(str(app), default_timeout=TIMEOUT)
    run = assemble("video", None, TINY)
    at.session_state["scenario"], at.session_state["agent_cfg"], at.session_state["train_cfg"] = (
        run.scenario, run.agent, run.train)
    at.run()
    at.multiselect(key="sweep:knobs").set_value(["agent.lr"]).run()
    at.text_input(key="sweep:range:agent.lr").set_value("1e-4:3e-3:log")
    at.number_input(key="sweep:trials").set_value(5)
    at.selectbox(key="sweep:pruner").set_value("none")
    at.text_input(key="sweep:name").set_value("kept").run()
    at.switch_page(str(other)).run()
    at.switch_page(str(PAGE)).run()
    assert not at.exception
    assert at.multiselect(key="sweep:knobs").value == ["agent.lr"]
    assert at.text_input(key="sweep:range:agent.lr").value == "1e-4:3e-3:log"
    assert at.number_input(key="sweep:trials").value == 5 and at.selectbox(key="sweep:pruner").value == "none"
    assert at.text_input(key="sweep:name").value == "kept"


def _held_sweep(name: str, gate: threading.Event) -> SweepJob:
    """A one-trial sweep in the page's own storage whose trial waits for ``gate`` (no training process)."""
    spec = SweepSpec(name=name, preset="video", config=None, overrides=(),
                     params=parse_params(["agent.gamma=0.8:0.99"]), seeds=1, first_seed=0, steps=10_000)
    study, n_trials = studies.open_sweep(spec, 1, sweep_page.storage_url())
    return SweepJob(study, sweep_page.storage_url(), str(sweep_page.store().home), GatedExecutor(1, gate), n_trials)


def test_only_who_started_a_sweep_may_stop_it_and_a_queued_one_says_who_holds_the_slots(tmp_path, monkeypatch):
    """Issue #18 for sweeps: a sweep's Stop is its starter's, as a run's Pause/Stop are; a sweep waiting for slots is
    told, as a run is, which runs hold them, whose they are and when one may free."""
    monkeypatch.setenv("DQN_SIM_MAX_JOBS", "1")
    st.cache_resource.clear()
    gate = threading.Event()
    try:
        for name, owner in (("ann-sweep", "user:ann@example.com"), ("bob-sweep", "user:bob@example.com")):
            job = _held_sweep(name, gate)
            registry().admit(job, owner=owner)  # Ann's holds the one slot, Bob's waits for it
            sweep_page.sweeps()[name] = job
        app = tmp_path / "sweep_app.py"
        app.write_text(APP)

        def visit(user: dict, name: str) -> AppTest:
            at = AppTest.from_file(str(app), default_timeout=TIMEOUT)
            at.user = user
            at.session_state["sweep:view"] = name
            at.run()
            assert not at.exception
            return at

        ann = {"is_logged_in": True, "email": "ann@example.com"}
        carl = {"is_logged_in": True, "email": "carl@example.com"}
        assert [b.key for b in visit(ann, "ann-sweep").button if b.key == "sweep:stop"] == ["sweep:stop"]
        watcher = visit(carl, "ann-sweep")
        assert not [b for b in watcher.button if b.key == "sweep:stop"]
        assert any("Started by ann@example.com: you can watch it, not steer it." in c.value for c in watcher.caption)
        [note] = [i.value for i in visit(carl, "bob-sweep").info if "Queued" in i.value]
        assert "**Queued, number 1**: the sweep needs 1 of this server's 1 training slots" in note
        assert "held by sweep ann-sweep (ann@example.com, no estimate yet)" in note and "0 wait(s) before it." in note
    finally:
        gate.set()
