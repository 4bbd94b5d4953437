"""Every page through Streamlit's AppTest: renders without exceptions, refuses bad input with a message
next to the field, and drives real training jobs (start, pause, resume, stop, fail).

AppTest never fires ``run_every`` timers: a test polls by calling ``at.run()`` again.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dqn_sim import policies
from dqn_sim.config import ScenarioConfig, TrainConfig
from dqn_sim.presets import get_preset, preset_agent
from dqn_sim.train.trainer import Trainer
from dqn_sim.vocab import ACTIVE_STATES
from ui.state import registry

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = ["pages/scenario.py", "pages/train.py", "pages/inspect.py", "pages/compare.py", "pages/sweep.py"]
TIMEOUT = 60  # seconds per run: generous, the machine is shared
QUICK = {"train.total_steps": 3000, "train.n_envs": 16, "train.learning_starts": 500, "train.log_every": 500,
         "train.eval_every": 1500, "train.eval_episodes": 16}  # a run of about a second
ENDLESS = {"train.total_steps": 10_000_000, "train.eval_episodes": 16}  # still running when the test acts


@pytest.fixture(autouse=True)
def fresh_app() -> Iterator[None]:
    """Empty caches (AppTest shares them across tests), and no job left running afterwards."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    registry().stop_all()
    st.cache_resource.clear()


def open_page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception
    return at


def start(at: AppTest, settings: dict[str, int], seeds: int = 1) -> str:
    """Fill the Train form and press Start; returns the new job's id."""
    at.number_input(key="train:seeds").set_value(seeds)
    for key, value in settings.items():
        at.number_input(key=key).set_value(value)
    at.button(key="train:start").click().run()
    assert not at.exception
    job_id = at.session_state["run_id"]
    job, deadline = registry().get(job_id), time.monotonic() + TIMEOUT
    while job.state == "pending":  # the training process is starting (the first also starts the fork server)
        assert time.monotonic() < deadline, "the training process did not start"
        time.sleep(0.05)
    at.run()
    return job_id


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def live_chart_traces(at: AppTest) -> list[list[str]]:
    """The names of the traces in each live chart (``ui.live_chart``) on the page."""
    charts = [e.proto for e in at.get("component_instance") if e.proto.component_name.endswith("live_chart")]
    return [[t.get("name") for t in json.loads(json.loads(c.json_args)["figure"])["data"]] for c in charts]


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def outcome(at: AppTest) -> str:
    """The Train page's sentence on how a run ended: green, blue or amber depending on how the DQN did."""
    [sentence] = [e.value for e in (*at.success, *at.info, *at.warning) if "after" in e.value and "steps" in e.value]
    return sentence


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exceptions(page: str) -> None:
    at = open_page(page)
    assert at.title and not at.error
    assert "Selected run" in texts(at.sidebar.caption)  # the run card is on every page


@pytest.mark.parametrize("slots", ["abc", "0"])
def test_a_slot_count_that_makes_no_sense_is_refused_in_the_sidebar_and_the_studio_works_on(monkeypatch, slots) -> None:
    """``DQN_SIM_MAX_JOBS=abc`` crashed every page (ValueError), ``0`` queued every start for ever."""
    monkeypatch.setenv("DQN_SIM_MAX_JOBS", slots)
    for page in [*PAGES, "pages/runs.py"]:
        at = open_page(page)
        assert any(w.startswith(f"DQN_SIM_MAX_JOBS must be an integer >= 1, got '{slots}'")
                   for w in texts(at.sidebar.warning)), page
    job_id = start(at.switch_page("pages/train.py").run(), QUICK)
    assert registry().queued(job_id) is None  # a slot was free: it trains


def badges(elements) -> list[str]:
    """The labels of the state badges among Markdown elements (``st.badge`` draws ``:color-badge[:icon: label]``)."""
    return [re.sub(r"^:\w+-badge\[(:material/\w+: )?(.*)\]$", r"\2", m.value) for m in elements
            if re.match(r"^:\w+-badge\[", m.value)]


def test_a_run_waiting_for_a_slot_reads_queued_with_its_place_not_starting(monkeypatch) -> None:
    """Its sidebar and Train badges said "Starting" (the pending label) all the while it waited."""
    from ui.fmt import ordinal

    monkeypatch.setenv("DQN_SIM_MAX_JOBS", "1")
    first = start(open_page("pages/train.py"), ENDLESS)  # holds the server's one slot
    at = open_page("pages/train.py")  # another visitor
    at.number_input(key="train:seeds").set_value(1)
    for key, value in ENDLESS.items():
        at.number_input(key=key).set_value(value)
    at.button(key="train:start").click().run()
    waiting = at.session_state["run_id"]
    assert not at.exception and registry().queued(waiting).position == 1
    assert badges(at.sidebar.markdown) == ["Queued (1st)"] and badges(at.main.markdown) == ["Queued (1st)"]
    assert [ordinal(n) for n in (2, 3, 4, 11, 12, 13, 21, 22, 111)] == [
        "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "111th"]  # a later place in the queue
    registry().stop(first)
    deadline = time.monotonic() + TIMEOUT
    while registry().get(waiting).state == "pending":  # its turn: it starts by itself
        assert time.monotonic() < deadline, "the queued run did not start"
        time.sleep(0.1)
    at.run()
    assert badges(at.sidebar.markdown) == ["Training"]


def test_a_group_started_while_the_store_is_busy_trains_and_train_says_saving_is_behind(monkeypatch,
                                                                                        isolated_home: Path) -> None:
    """Another process holds the store's write lock beyond its wait when a 2-seed group starts: the group trains (it
    failed at once), the Train page says saving is behind, and the group is stored once the lock is released."""
    import ui.state
    from dqn_sim.store import RunStore
    from dqn_sim.store.groups import GroupStore
    from tests.test_store_recording import hold_write_lock

    runs = RunStore(isolated_home, busy_timeout_s=0.1)
    monkeypatch.setattr(ui.state, "store", lambda: runs)
    at = open_page("pages/train.py")
    locker = hold_write_lock(runs.db_path, 4.0)
    at.number_input(key="train:seeds").set_value(2)
    for key, value in QUICK.items():
        at.number_input(key=key).set_value(value)
    at.button(key="train:start").click().run()
    group = registry().group(at.session_state["run_id"])
    deadline = time.monotonic() + TIMEOUT
    while not group.recorder.behind:
        assert time.monotonic() < deadline, "saving never fell behind"
        time.sleep(0.05)
    at.run()
    assert not at.exception and any("Saving to the run store is behind" in c for c in texts(at.caption))
    assert group.join(3 * TIMEOUT)
    locker.wait()
    stored = GroupStore(runs).get_group(group.id)
    assert (stored["status"], stored["error"]) == ("finished", None) and group.status().error is None
    assert [m["status"] for m in stored["members"]] == ["finished", "finished"]


def test_scenario_invalid_value_shows_message_next_to_field_and_keeps_last_valid() -> None:
    at = open_page()
    at.number_input(key="scenario.dynamics.n_candidates").set_value(500).run()
    assert not at.exception
    assert texts(at.error) == ["Must be an integer in [0, 200] (catalogue.n_items), got 500"]
    assert "need attention" in at.warning[0].value
    assert at.session_state["scenario"].dynamics.n_candidates == 0  # training would use the last valid one
    at.number_input(key="scenario.dynamics.n_candidates").set_value(20).run()
    assert not at.error and at.session_state["scenario"].dynamics.n_candidates == 20


def test_scenario_list_field_that_does_not_parse_is_refused() -> None:
    at = open_page()
    at.text_input(key="scenario.audience.segment_shares").set_value("0.5, lots").run()
    assert texts(at.error) == ["Must be a list of numbers, got '0.5, lots'"]
    at.text_input(key="scenario.audience.segment_shares").set_value("1, 1, 1, 1").run()
    assert not at.error and at.session_state["scenario"].audience.segment_shares == [1.0] * 4


def test_preset_choice_loads_every_knob() -> None:
    at = open_page()
    at.selectbox(key="scenario:preset").select("recsim-ie").run()
    assert not at.exception
    assert at.session_state["scenario"] == get_preset("recsim-ie")
    assert at.number_input(key="scenario.dynamics.slate_size").value == 2


def test_scenarios_save_load_and_upload(isolated_home: Path) -> None:
    at = open_page()
    at.number_input(key="scenario.catalogue.n_items").set_value(321).run()
    at.text_input(key="scenario.name").set_value("big shop").run()
    button(at, "Save").click().run()
    assert (isolated_home / "scenarios" / "big shop.json").is_file()
    assert "Saved as **big shop**." in texts(at.success)
    at.selectbox(key="scenario:preset").select("news").run()
    assert at.session_state["scenario"].catalogue.n_items == 500
    at.selectbox(key="scenario:saved").select("big shop")
    button(at, "Load").click().run()
    assert at.session_state["scenario"].catalogue.n_items == 321
    assert at.number_input(key="scenario.catalogue.n_items").value == 321
    upload = get_preset("live").to_json().encode()
    at.file_uploader(key="scenario:upload").set_value(("live.json", upload, "application/json")).run()
    assert at.session_state["scenario"] == get_preset("live")


@pytest.mark.parametrize(("content", "reason"), [
    (b"{not json", "cannot read JSON"),
    (json.dumps({"catalogue": {"n_items": -3}}).encode(), "catalogue.n_items must be an integer in [2, 20000]"),
    (json.dumps({"colour": "red"}).encode(), "unknown field colour"),
])
def test_corrupt_upload_is_refused_with_a_reason(content: bytes, reason: str) -> None:
    at = open_page()
    before = at.session_state["scenario"]
    at.file_uploader(key="scenario:upload").set_value(("bad.json", content, "application/json")).run()
    assert not at.exception
    assert any("bad.json was not loaded" in e and reason in e for e in texts(at.error))
    assert at.session_state["scenario"] == before


def test_train_invalid_hyperparameter_shows_message_and_starts_nothing() -> None:
    at = open_page("pages/train.py")
    at.number_input(key="agent.eps_start").set_value(0.1)
    at.number_input(key="agent.eps_end").set_value(0.5)
    at.button(key="train:start").click().run()
    assert "Must be a number in [0, 0.1] (eps_start), got 0.5" in texts(at.error)
    assert "run_id" not in at.session_state and not registry().jobs()


def test_start_pause_resume_stop() -> None:
    at = open_page("pages/train.py")
    job_id = start(at, ENDLESS)
    job = registry().get(job_id)
    assert job.snapshot().state in ACTIVE_STATES and at.query_params["run"] == job_id
    button(at, "Pause").click().run()
    assert job.snapshot().state == "paused"
    button(at, "Resume").click().run()
    assert job.snapshot().state == "running"
    button(at, "Stop").click().run()
    assert not at.exception
    assert job.join(TIMEOUT)  # a stop during the baselines' evaluation waits for it: poll like the page does
    at.run()
    assert job.snapshot().state == "stopped"
    assert outcome(at).startswith("Stopped")
    [names] = live_chart_traces(at)
    assert "Random" in names


def test_finished_run_reaches_inspect_and_compare() -> None:
    at = open_page("pages/train.py")
    job = registry().get(start(at, QUICK))
    assert job.join(TIMEOUT)
    at.run()  # a poll: the page notices the end
    assert outcome(at).startswith("Finished")
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["policy"].map(str.lower).str.split().str[0]).count("dqn") == 1
    assert len(table) == 1 + len(policies.evaluated_in_training())
    assert policies.label("patient-oracle") in set(table["policy"])  # the ceiling, said to be one under the table
    assert any(c.startswith(f"{policies.label('patient-oracle')}: reads the true model and plans ahead")
               for c in texts(at.caption))
    assert {"leave_rate", "clickbait_share", "quality", "coverage"} <= set(table.columns)
    assert [m for m in texts(at.markdown) if m.startswith("The DQN ")]  # the mechanism, in words from the numbers
    at.switch_page("pages/inspect.py").run()
    assert not at.exception and not at.info  # a model is there: no 'train first' note
    assert at.selectbox(key="inspect:a").value == "dqn"
    at.slider(key="inspect:step").set_value(2).run()
    assert not at.exception


def test_inspect_without_model_compares_baselines() -> None:
    at = open_page("pages/inspect.py")
    assert "No trained model" in at.info[0].value
    assert at.selectbox(key="inspect:a").value == "greedy" and len(at.metric) == 6
    at.segmented_control(key="inspect:by").set_value("user").run()
    at.number_input(key="inspect:user").set_value(42).run()
    assert not at.exception and "User **42**" in at.caption[0].value


def test_inspect_offers_the_patient_oracle_marked_as_a_ceiling() -> None:
    at = open_page("pages/inspect.py")
    for key in ("inspect:a", "inspect:b"):
        box = at.selectbox(key=key)
        assert policies.label("patient-oracle") in box.options
        assert f"{policies.label('patient-oracle')}: reads the true model and plans ahead" in box.help
    at.selectbox(key="inspect:b").select("patient-oracle").run()
    assert not at.exception
    assert any(m.value == f"#### {policies.label('patient-oracle')}" for m in at.markdown)


class BrokenTrainer(Trainer):
    """Fails at its first step (module level: the training process imports it by name)."""

    def step(self) -> None:
        raise RuntimeError("simulated failure")


def test_failed_job_shows_its_error_and_keeps_its_charts(monkeypatch) -> None:
    monkeypatch.setattr(registry(), "trainer_factory", BrokenTrainer)
    at = open_page("pages/train.py")
    job = registry().get(start(at, QUICK))
    assert job.join(TIMEOUT)
    at.run()
    assert any("simulated failure" in e for e in texts(at.error))
    [names] = live_chart_traces(at)
    assert "Random" in names  # the baselines were evaluated before the failure


def test_reload_reattaches_and_two_tabs_run_their_own_jobs() -> None:
    first = open_page("pages/train.py")
    first_id = start(first, ENDLESS)
    second = open_page("pages/train.py")  # another tab: no job yet
    assert "run_id" not in second.session_state
    second_id = start(second, ENDLESS)
    assert second_id != first_id and {j.id for j in registry().jobs()} == {first_id, second_id}
    reload = AppTest.from_file(APP, default_timeout=TIMEOUT)
    reload.query_params["run"] = first_id  # a reload keeps ?run=<id> in the URL
    reload.run()
    assert reload.session_state["run_id"] == first_id
    reload.switch_page("pages/train.py").run()  # the form shows the reattached run's settings
    assert reload.number_input(key="train.total_steps").value == ENDLESS["train.total_steps"]
    third = open_page("pages/train.py")  # both slots are taken: the third start waits in the queue
    third.number_input(key="train:seeds").set_value(1)
    third.button(key="train:start").click().run()
    third_id = third.session_state["run_id"]
    assert registry().queued(third_id).position == 1
    assert any("Queued, number 1" in i for i in texts(third.info))
    registry().stop(first_id)  # a slot frees: the queued run starts by itself
    deadline = time.monotonic() + TIMEOUT
    while registry().queued(third_id) is not None:
        assert time.monotonic() < deadline, "the queued run did not start"
        time.sleep(0.1)
    assert registry().get(third_id).status().state in ACTIVE_STATES


@pytest.mark.parametrize(("preset", "slate"), [("recsim-ie", 2), ("live", 1)])
def test_inspect_replays_slates_and_masks(preset: str, slate: int) -> None:
    """recsim-ie recommends slates of 2 out of 10 candidates, live items go on and off air."""
    at = open_page()
    at.selectbox(key="scenario:preset").select(preset).run()
    at.switch_page("pages/train.py").run()
    job = registry().get(start(at, QUICK))
    assert job.join(3 * TIMEOUT) and job.snapshot().state == "finished"
    at.switch_page("pages/inspect.py").run()
    assert not at.exception and at.selectbox(key="inspect:a").value == "dqn"
    steps = [m.value for m in at.markdown if m.value.startswith("Recommended **")]
    assert len(steps) == 2  # policy A and policy B at the chosen step
    assert all(s.split(";")[0].count("#") == slate for s in steps)


def test_choosing_a_preset_loads_its_agent_settings_into_the_train_form() -> None:
    at = open_page()
    at.selectbox(key="scenario:preset").select("recsim-ie").run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.number_input(key="agent.lr").value == pytest.approx(preset_agent("recsim-ie").lr) == 0.0002
    assert at.number_input(key="agent.reward_scale").value == pytest.approx(0.25)


def upload(at: AppTest, name: str, config: dict) -> None:
    at.file_uploader(key="scenario:upload").set_value((name, json.dumps(config).encode(), "application/json")).run()
    assert not at.exception and not at.error


def test_a_runs_config_json_uploaded_on_scenario_brings_its_agent_and_training_settings_to_train() -> None:
    """A run's config.json, which ``train --config`` takes, was refused here with 'unknown field agent'."""
    agent = preset_agent("news").with_overrides({"lr": 0.0007, "hidden_sizes": [32]})
    train = TrainConfig().with_overrides({"seed": 5, "total_steps": 4000})
    at = open_page()
    upload(at, "config.json", {"scenario": get_preset("news").to_dict(), "agent": agent.to_dict(),
                               "train": train.to_dict()})
    assert at.session_state["scenario"] == get_preset("news")
    assert any("Loaded **config.json**" in m and "agent settings (on Train)" in m for m in texts(at.success))
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.number_input(key="agent.lr").value == pytest.approx(0.0007)
    assert at.number_input(key="train.seed").value == 5 and at.number_input(key="train.total_steps").value == 4000
    assert (at.session_state["agent_cfg"], at.session_state["train_cfg"]) == (agent, train)


def test_a_partial_scenario_file_gives_the_world_the_cli_gives(tmp_path: Path) -> None:
    """The file is laid over the selected preset, as the CLI lays it over --preset (it was laid over
    ``ScenarioConfig()``); the agent settings, which it does not set, stay as they were."""
    from dqn_sim.cli import build_parser, load_configs

    partial = {"catalogue": {"n_items": 321}, "dynamics": {"slate_size": 3}}
    (tmp_path / "partial.json").write_text(json.dumps(partial))
    args = ["train", "--preset", "news", "--config", str(tmp_path / "partial.json"), "--out", str(tmp_path / "run")]
    cli = load_configs(build_parser().parse_args(args))
    at = open_page()
    at.selectbox(key="scenario:preset").select("news").run()
    agent = at.session_state["agent_cfg"]
    upload(at, "partial.json", partial)
    assert at.session_state["scenario"] == cli.scenario != ScenarioConfig.from_dict(partial)
    assert at.number_input(key="scenario.catalogue.n_items").value == 321
    assert at.session_state["agent_cfg"] == agent


def stored_run(home: Path) -> str:
    """A finished run trained outside the studio (as by the CLI), in the store the studio opens."""
    from dqn_sim.store import RunStore
    from dqn_sim.train.job import TrainingJob
    from dqn_sim.train.recording import StoreObserver

    scenario = get_preset("news")
    agent = preset_agent("news").with_overrides({"hidden_sizes": [32]})
    train = TrainConfig().with_overrides({k.removeprefix("train."): v for k, v in QUICK.items()})
    with RunStore(home) as runs:
        job = TrainingJob(scenario, agent, train, name="cli run", observer=StoreObserver(runs, source="cli")).start()
        assert job.join(3 * TIMEOUT) and job.state == "finished", job.status().error  # a busy machine is slow
        runs.rename(job.id, "renamed elsewhere")
    return job.id


def test_a_stored_run_opens_by_url_after_a_restart_with_its_scenario_model_and_results(isolated_home: Path) -> None:
    """The store is the truth: a run this server never trained shows on Train, Inspect and Compare."""
    run_id = stored_run(isolated_home)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["run"] = run_id  # a link to the run, opened on a fresh server
    at.run()
    assert not at.exception and at.session_state["run_id"] == run_id
    assert at.session_state["scenario"].name == "news"  # the run's scenario, not the default
    assert "renamed elsewhere" in texts(at.sidebar.text)
    at.switch_page("pages/train.py").run()
    assert not at.exception and outcome(at).startswith("Finished")
    assert "renamed elsewhere" in texts(at.text) and not [b for b in at.button if b.label in ("Pause", "Stop")]
    [names] = live_chart_traces(at)
    assert "DQN held-out" in names
    at.switch_page("pages/inspect.py").run()
    assert not at.exception and at.selectbox(key="inspect:run").value == run_id
    assert at.selectbox(key="inspect:a").value == "dqn"
    at.switch_page("pages/compare.py").run()
    assert not at.exception and at.selectbox(key="compare:run").value == run_id
    assert "DQN" in list(at.dataframe[0].value["policy"])


def test_only_who_started_a_run_may_steer_it() -> None:
    owner = open_page("pages/train.py")
    run_id = start(owner, ENDLESS)
    assert {"Pause", "Stop"} <= {b.label for b in owner.button}
    visitor = AppTest.from_file(APP, default_timeout=TIMEOUT)
    visitor.query_params["run"] = run_id  # someone else opens the run's link
    visitor.run()
    visitor.switch_page("pages/train.py").run()
    assert not visitor.exception
    assert not {"Pause", "Resume", "Stop"} & {b.label for b in visitor.button}
    assert any("you can watch it, not steer it" in c for c in texts(visitor.caption))
    assert registry().get(run_id).status().active  # nothing the visitor did stopped it


def test_compare_a_or_b_says_how_sure_and_which_variation_the_interval_covers(isolated_home: Path) -> None:
    first, second = stored_run(isolated_home), stored_run(isolated_home)
    at = open_page("pages/compare.py")
    at.selectbox(key="compare:a").select(first).run()
    at.selectbox(key="compare:b").select(second).run()
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    assert "P(A > B)" in labels and labels["Variation covered"] == "evaluation sessions"
    verdict = [t for t in texts(at.success) + texts(at.info) if "IQM difference" in t]
    assert verdict and "one training seed each" in verdict[0]  # single runs: no claim about other seeds


def test_a_lift_below_zero_gets_a_down_arrow_and_one_percent_format() -> None:
    """Regression: '−25.6%' (a typographic minus) got a green up-arrow; '+0%' did too."""
    from ui.fmt import delta_color, percent

    assert percent(-0.256, signed=True) == "-25.6%" and percent(0.295, signed=True) == "+29.5%"
    assert percent(0.295) == "29.5%" and percent(float("nan")) == "—"
    assert delta_color(0.0) == "off" and delta_color(-0.2) == "normal"
