"""Issue 15: "one imported zip can break the store for everyone". Rows written before today's import checks, or by
hand, with a creation time of 1e300, a string return, a zero baseline return, a numeric baseline name, a seed
beyond 64 bits, 100k-deep or broken JSON, unknown status or unreadable settings: every page of the studio renders
with them in the store, whichever run is picked, and the Runs page says what is wrong with each (test_store_listing
checks the list itself)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dqn_sim.store import RunStore
from tests.test_app import APP, TIMEOUT
from tests.test_odd_runs import BASELINES, PAGES, eval_rows, metric_rows
from tests.test_store_listing import BAD_ROWS, SUMMARY, spoil
from tests.test_store_recording import AGENT, SCENARIO, TRAIN
from ui.state import registry


@pytest.fixture
def ids(isolated_home: Path) -> Iterator[dict[str, str]]:
    """A sound finished run and one run per kind of spoiled row, all with rows to draw; name -> run id."""
    ids = {}
    with RunStore(isolated_home) as store:
        for name in ["good", *BAD_ROWS]:
            run_id = ids[name] = store.create_run(name=name, scenario=SCENARIO, agent=AGENT, train=TRAIN, seed=0,
                                                  source="cli")
            store.append_metrics(run_id, metric_rows([500, 1000]))
            store.append_evals(run_id, eval_rows(0, BASELINES) + eval_rows(1000, ["dqn"])
                               + eval_rows(1000, ["dqn", *BASELINES], split="test"))
            store.set_summary(run_id, SUMMARY)
            store.set_status(run_id, "finished")
            if name != "good":
                spoil(store, run_id, **BAD_ROWS[name][0])
    st.cache_resource.clear()
    st.cache_data.clear()
    yield ids
    registry().stop_all()
    st.cache_resource.clear()


def test_every_page_survives_every_spoiled_row(ids: dict[str, str]) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        if page == "pages/runs.py":  # the table says what is wrong with each row
            problems = " ".join(str(v) for v in at.dataframe[0].value["problem"] if v)
            for name, (_, problem) in BAD_ROWS.items():
                assert problem is None or problem in problems, name
    for name, run_id in ids.items():  # each run picked: on Runs, on Compare, and as the session's run
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.query_params["run"] = run_id
        at.run()
        assert not at.exception, (name, at.exception)
        picked = []
        for page in PAGES:
            at.switch_page(page).run()
            assert not at.exception, (name, page, at.exception)
            for key in ("runs:pick", "compare:run"):
                if any(s.key == key for s in at.selectbox):  # its options are labels: select() takes the id
                    at.selectbox(key=key).select(run_id).run()
                    assert not at.exception, (name, page, key, at.exception)
                    picked.append(key)
        assert sorted(picked) == ["compare:run", "runs:pick"], name  # every run was picked on both pages


def test_a_run_whose_settings_do_not_load_is_said_so_and_can_be_deleted(ids: dict[str, str]) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("pages/runs.py").run()
    at.selectbox(key="runs:pick").select(ids["agent"]).run()
    assert not at.exception
    assert any(e.value.startswith("This run cannot be shown: ") and "its agent settings do not load" in e.value
               for e in at.error)
    at.checkbox(key=f"runs:confirm:{ids['agent']}").check().run()
    at.button[-1].click().run()
    assert not at.exception
    with RunStore() as store:
        assert ids["agent"] not in set(store.list_runs()["id"]) and len(store.list_runs()) == len(ids) - 1
