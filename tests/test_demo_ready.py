"""Demo-ready (#12): a run keeps one colour across Compare, settings used only under another choice are hidden.

AppTests on a store seeded with real runs (``tests.test_runs_page``'s fixtures)."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from dqn_sim.store import RunStore
from tests.test_app import QUICK, TIMEOUT, open_page, start
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


def labels_shown(at: AppTest) -> set[str]:
    return {w.label for w in [*at.number_input, *at.selectbox, *at.toggle]}


def test_knobs_of_another_choice_are_hidden_and_a_choice_shows_its_own_at_once() -> None:
    at = open_page("pages/train.py")
    shown = labels_shown(at)  # the defaults: linear ε schedule, hard target copies, no prioritized replay
    assert "ε decay fraction (linear schedule only)" in shown
    assert not shown & {"ε decay rate (exponential schedule only)", "ε decay period (exponential schedule only)",
                        "Soft update τ (target network's step)", "Replay priority α (PER alpha: 0 = uniform replay)"}
    at.selectbox(key="agent.eps_schedule").select("exponential").run()
    at.toggle(key="agent.prioritized").set_value(True).run()
    shown = labels_shown(at)
    assert {"ε decay rate (exponential schedule only)", "ε decay period (exponential schedule only)",
            "Replay priority α (PER alpha: 0 = uniform replay)"} <= shown
    assert "ε decay fraction (linear schedule only)" not in shown
    # a choice reruns the page at once (outside a form); the other knobs wait for Start
    assert at.selectbox(key="agent.eps_schedule").proto.form_id == ""
    number = at.number_input(key="agent.eps_decay_rate")
    assert "Used only when eps_schedule is 'exponential'" in number.help
    at.number_input(key="agent.eps_decay_period").set_value(250)
    start(at, QUICK)
    assert not at.exception
    assert at.session_state.agent_cfg.eps_schedule == "exponential"
    assert at.session_state.agent_cfg.eps_decay_period == 250


def test_the_scenario_choice_model_shows_only_its_own_knobs() -> None:
    at = open_page("pages/scenario.py")
    assert "Affinity weight" in labels_shown(at) and "No click mass" not in labels_shown(at)  # logit
    at.selectbox(key="scenario.dynamics.choice_model").select("proportional").run()
    assert not at.exception
    assert "No click mass" in labels_shown(at) and not {"Affinity weight", "No click score"} & labels_shown(at)


def test_every_when_names_a_sibling_choice_and_values_it_can_take() -> None:
    """A typo in ``knob(when=...)`` would hide a knob for good: the sibling must exist and take those values."""
    from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig, decided_by, leaf_fields

    for cfg in (ScenarioConfig(), AgentConfig(), TrainConfig()):
        paths = {path: f for path, f, _ in leaf_fields(cfg)}
        for path, f in paths.items():
            if (sibling := decided_by(path, f)) is None:
                continue
            allowed = paths[sibling].metadata.get("choices") or (True, False)
            assert set(f.metadata["when"][1]) <= set(allowed), (path, f.metadata["when"])
