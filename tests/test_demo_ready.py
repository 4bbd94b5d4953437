"""Demo-ready (#12): a run keeps one colour across Compare, settings used only under another choice are hidden.

AppTests on a store seeded with real runs (``tests.test_runs_page``'s fixtures)."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from dqn_sim.store import RunStore
from tests.test_app import TIMEOUT
from tests.test_runs_page import fresh_app, ids, store, template  # noqa: F401 (fixtures)


def comparison() -> None:
    from ui.history import stored_runs_comparison

    stored_runs_comparison()


def trace_colors(at: AppTest, name: str) -> set[str]:
    """Every colour the traces named ``name`` are drawn in, over all Plotly charts on the page."""
    found = set()
    for chart in at.get("plotly_chart"):
        for trace in json.loads(chart.proto.spec)["data"]:
            if trace.get("name") == name:
                found.add((trace.get("marker") or {}).get("color") or trace["line"]["color"])
    return found


def test_a_run_keeps_one_colour_on_every_chart_whichever_runs_are_chosen_beside_it(
    store: RunStore,  # noqa: F811 (the fixture)
) -> None:
    runs = ids(store)
    baseline, fast = runs["video · baseline"], runs["video · fast lr"]
    at = AppTest.from_function(comparison, default_timeout=TIMEOUT).run()
    colors = {}
    for chosen in ([baseline, fast], [fast], [fast, baseline]):
        at.multiselect(key="history:runs").set_value(chosen).run()
        assert not at.exception
        colors[tuple(chosen)] = trace_colors(at, "video · fast lr")
    assert all(len(c) == 1 for c in colors.values()), colors  # one colour on the curves, intervals, segments
    assert len(set.union(*colors.values())) == 1, colors  # and the same whether it is chosen first, second or alone
    at.multiselect(key="history:runs").set_value([baseline, fast]).run()
    assert trace_colors(at, "video · baseline") != trace_colors(at, "video · fast lr")
