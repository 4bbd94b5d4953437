"""Rival learners in the studio (issue 9) through AppTest: a rival's stored run replays on Inspect under its own
name, and one Start trains several learners side by side on the Train page. Tiny worlds and budgets: the point is
the wiring, not what is learned."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dqn_sim import memory
from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.presets import get_preset
from tests.test_app import (  # noqa: F401  (fresh_app: the fixture empties the caches)
    APP,
    ENDLESS,
    QUICK,
    TIMEOUT,
    button,
    fresh_app,
    live_chart_traces,
    open_page,
)
from ui.state import registry

TINY = get_preset("video").with_overrides({"catalogue.n_items": 30, "dynamics.max_steps": 20})
QUICK_TRAIN = TrainConfig().with_overrides({k.removeprefix("train."): v for k, v in QUICK.items()})


def stored_rival_run(home: Path, algo: str) -> str:
    """A finished run of ``algo`` trained outside the studio (as by the CLI), in the store the studio opens."""
    from dqn_sim.store import RunStore
    from dqn_sim.train.job import TrainingJob
    from dqn_sim.train.recording import StoreObserver

    with RunStore(home) as runs:
        job = TrainingJob(TINY, AgentConfig(), QUICK_TRAIN.with_overrides({"algo": algo}), name=f"{algo} run",
                          observer=StoreObserver(runs, source="cli")).start()
        assert job.join(3 * TIMEOUT) and job.state == "finished", job.status().error
    return job.id


def opened_on(page: str, run_id: str) -> AppTest:
    """The studio opened by a link to ``run_id``, then switched to ``page``."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["run"] = run_id
    at.run()
    return at.switch_page(page).run()


def test_inspect_replays_a_rivals_stored_model_under_its_name(isolated_home: Path) -> None:
    run_id = stored_rival_run(isolated_home, "linucb")
    at = opened_on("pages/inspect.py", run_id)
    assert not at.exception and not at.error  # no "cannot be replayed"
    assert at.selectbox(key="inspect:run").value == run_id and "LinUCB" in at.selectbox(key="inspect:run").options[0]
    policy_a = at.selectbox(key="inspect:a")
    assert policy_a.value == "linucb" and policy_a.options[0] == "LinUCB (trained)"
    assert any(m.startswith("#### LinUCB (trained)") for m in (e.value for e in at.markdown))
    at.slider(key="inspect:step").set_value(2).run()
    assert not at.exception


def start_side_by_side(at: AppTest, also: list[str], settings: dict[str, int], seeds: int) -> list[str]:
    """Pick learners to train beside the form's learner, fill the form and press Start; returns the lineup's ids."""
    at.multiselect(key="train:also").set_value(also).run()
    at.number_input(key="train:seeds").set_value(seeds)
    for key, value in settings.items():
        at.number_input(key=key).set_value(value)
    button(at, "Start training").click().run()
    assert not at.exception
    return at.session_state["lineup"]


def test_one_start_trains_several_learners_side_by_side_and_says_who_wins() -> None:
    at = open_page("pages/train.py")
    at.multiselect(key="train:also").set_value(["linucb"]).run()
    assert [t.label for t in at.tabs][:2] == ["Run", "Network"] and "LinUCB" in [t.label for t in at.tabs]
    ids = start_side_by_side(at, ["linucb"], QUICK, seeds=2)
    groups = [registry().group(i) for i in ids]
    assert [g.train_cfg.algo for g in groups] == ["dqn", "linucb"]  # one group per learner, each stored on its own
    assert groups[0].seeds == groups[1].seeds == [0, 1] and groups[0].train_cfg.total_steps == 3000
    assert at.session_state["run_id"] == ids[0] and at.query_params["lineup"] == ",".join(ids)
    assert all(g.join(3 * TIMEOUT) for g in groups)
    at.run()
    assert not at.exception
    [names] = live_chart_traces(at)
    assert {"DQN · seed 0", "DQN · seed 1", "LinUCB · seed 0", "LinUCB · seed 1"} <= set(names)
    [verdict] = [e.value for e in (*at.success, *at.info) if "leads" in e.value]
    assert "over training seeds" in verdict and "P(" in verdict
    table = at.dataframe[0].value
    assert list(table["learner"]) == ["DQN", "LinUCB"] and table["test return"].notna().all()
    again = AppTest.from_file(APP, default_timeout=TIMEOUT)  # a reload, or the link shared: the same lineup
    again.query_params["run"], again.query_params["lineup"] = ids[0], ",".join(ids)
    again.run()
    again.switch_page("pages/train.py").run()
    assert not again.exception and "Side by side: DQN, LinUCB" in [e.value for e in again.text]


def test_side_by_side_learners_take_a_slot_each_and_stop_together(monkeypatch) -> None:
    """One slot on the server: the second learner waits in the queue, says so, and one Stop ends both."""
    monkeypatch.setenv("DQN_SIM_MAX_JOBS", "1")
    at = open_page("pages/train.py")
    ids = start_side_by_side(at, ["thompson"], ENDLESS, seeds=1)
    assert registry().queued(ids[0]) is None and registry().queued(ids[1]).position == 1
    at.run()
    assert any("Queued, number 1" in e.value for e in at.info)
    assert "Side by side: DQN, Thompson sampling" in [e.value for e in at.text]
    button(at, "Stop").click().run()
    assert not at.exception
    assert registry().get(ids[0]).join(TIMEOUT) and registry().get(ids[0]).state == "stopped"
    assert registry().get(ids[1]) is None  # taken out of the queue before it started


def test_compare_shows_a_rivals_stored_run_as_evaluated_under_its_name(isolated_home: Path) -> None:
    run_id = stored_rival_run(isolated_home, "thompson")
    at = opened_on("pages/compare.py", run_id)
    assert not at.exception and at.selectbox(key="compare:run").value == run_id
    assert not [i.value for i in at.info if "first evaluation comes after" in i.value]  # it was evaluated
    assert "Thompson sampling" in list(at.dataframe[0].value["policy"])


def test_compare_across_stored_runs_shows_each_runs_own_learner_under_its_label(isolated_home: Path) -> None:
    """Regression: the across-runs tab kept only 'dqn' rows, so a LinUCB run had no curve, result or setting."""
    from dqn_sim.store import RunStore
    from tests.test_runs_page import comparison
    from ui.history import HYPERPARAMETERS

    dqn_id, linucb_id = stored_rival_run(isolated_home, "dqn"), stored_rival_run(isolated_home, "linucb")
    with RunStore(isolated_home) as runs:
        tested = runs.get_run(linucb_id)["summary"]["linucb_return"]
    at = AppTest.from_function(comparison, default_timeout=TIMEOUT).run()
    at.multiselect(key="history:runs").set_value([dqn_id, linucb_id]).run()
    assert not at.exception and not [c.value for c in at.caption if "Not evaluated" in c.value]
    final = at.dataframe[0].value.set_index("series")
    assert final.loc["LinUCB · linucb run", "return_mean"] == tested and "dqn run" in final.index  # DQN: its name
    [curves, *_] = at.get("plotly_chart")
    assert {"dqn run", "LinUCB · linucb run"} <= {t.get("name") for t in json.loads(curves.proto.spec)["data"]}
    assert "Learner" in at.selectbox(key="history:param").options
    assert HYPERPARAMETERS["reinforce.lr"] == "REINFORCE top-K: Learning rate" != HYPERPARAMETERS["lr"]


def test_learners_side_by_side_are_refused_when_together_they_pass_the_memory_limit(monkeypatch) -> None:
    """Each learner of a lineup was checked alone: two that fit one at a time were started together."""
    at = open_page("pages/train.py")
    train = at.session_state["train_cfg"].with_overrides({k.removeprefix("train."): v for k, v in QUICK.items()})
    one = memory.training(at.session_state["scenario"], at.session_state["agent_cfg"], train).total
    monkeypatch.setenv(memory.LIMIT_ENV, str(1.5 * one / memory.MB))  # room for one learner, not for two
    at.multiselect(key="train:also").set_value(["linucb"]).run()
    at.number_input(key="train:seeds").set_value(1)
    for key, value in QUICK.items():
        at.number_input(key=key).set_value(value)
    button(at, "Start training").click().run()
    assert not at.exception
    assert any("2 training runs at once would need about" in e.value for e in at.error)
    assert "lineup" not in at.session_state and registry().running_count() == 0
