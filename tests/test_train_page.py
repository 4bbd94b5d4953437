"""The Train page's learner choice, agent presets and the four live plots (Streamlit AppTest)."""

from __future__ import annotations

from dqn_sim.agent_presets import AGENT_PRESETS
from tests.test_app import QUICK, TIMEOUT, fresh_app, live_chart_traces, open_page, outcome, start  # noqa: F401
from ui.state import registry


def test_a_rival_learner_is_picked_trained_and_charted_under_its_name() -> None:
    at = open_page("pages/train.py")
    at.selectbox(key="train.algo").select("linucb").run()
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Run", "LinUCB"]  # the DQN's tabs give way to the rival's knobs
    assert at.selectbox(key="train:agent-preset").disabled
    job = registry().get(start(at, QUICK))
    assert job.train_cfg.algo == "linucb" and job.join(TIMEOUT)
    at.run()
    assert not at.exception and "LinUCB earns" in outcome(at)
    assert at.selectbox(key="train:lower").value == "All four plots"
    [names] = live_chart_traces(at)
    assert "LinUCB held-out" in names and not any(n and n.startswith("DQN") for n in names)
    at.selectbox(key="train:lower").select("Return + TD loss").run()
    assert not at.exception and len(live_chart_traces(at)) == 1


def test_the_article_preset_loads_the_seed_articles_dqn_into_the_form() -> None:
    at = open_page("pages/train.py")
    at.selectbox(key="train:agent-preset").select("article").run()
    assert not at.exception
    for name, (value, _) in AGENT_PRESETS["article"].settings.items():
        widget = next(w for kind in (at.number_input, at.selectbox, at.toggle) for w in kind
                      if w.key == f"agent.{name}")
        assert widget.value == value, name
    at.selectbox(key="train:agent-preset").select("defaults").run()
    assert at.selectbox(key="agent.loss").value == "huber"
