"""The Runs page and the stored-run comparison through Streamlit's AppTest, on a store seeded with real runs:
two short trainings recorded as the app records them, and a run that failed before it saved a model."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.presets import get_preset
from dqn_sim.store import RunImportError, RunStore
from dqn_sim.train.recording import StoreObserver
from dqn_sim.train.registry import JobRegistry
from tests.test_app import QUICK, TIMEOUT, button, open_page, texts
from ui import history
from ui.state import registry

RUNS = "pages/runs.py"
QUICK_TRAIN = TrainConfig(**{k.removeprefix("train."): v for k, v in QUICK.items()})
SEEDED = {  # name -> (agent settings, training seed); both on the video preset
    "video · baseline": (AgentConfig(), 0),
    "video · fast lr": (AgentConfig(lr=2e-3, gamma=0.9, n_step=3), 1),
}
FAILED = "broken run"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store home with the seeded runs, trained once for the module and copied into each test's home."""
    home = tmp_path_factory.mktemp("runs_template")
    with RunStore(home) as store:
        jobs = JobRegistry(max_running=len(SEEDED), observer_factory=lambda owner: StoreObserver(store))
        started = [jobs.start(get_preset("video"), agent, dataclasses.replace(QUICK_TRAIN, seed=seed), name=name)
                   for name, (agent, seed) in SEEDED.items()]
        assert all(job.join(TIMEOUT) and job.state == "finished" for job in started)
        run_id = store.create_run(name=FAILED, scenario=get_preset("news"), agent=AgentConfig(),
                                  train=QUICK_TRAIN, seed=0)
        store.set_status(run_id, "failed", error="RuntimeError: simulated failure")
    return home


@pytest.fixture
def store(template: Path, isolated_home: Path) -> Iterator[RunStore]:
    """This test's store, seeded; the app opens its own on the same home (as another process would)."""
    shutil.copytree(template, isolated_home)
    with RunStore() as s:
        yield s


@pytest.fixture(autouse=True)
def fresh_app() -> Iterator[None]:
    """Empty caches (AppTest shares them, the app's store included), and no job left running afterwards."""
    st.cache_resource.clear()
    yield
    for job in registry().jobs():
        job.stop()
        job.join(TIMEOUT)
    st.cache_resource.clear()


def ids(store: RunStore) -> dict[str, str]:
    runs = store.list_runs()
    return dict(zip(runs["name"], runs["id"], strict=True))


def table_names(at: AppTest) -> list[str]:
    return sorted(at.dataframe[0].value["name"])


def pick(at: AppTest, run_id: str) -> AppTest:
    at.selectbox(key="runs:pick").select(run_id).run()
    assert not at.exception
    return at


def test_lists_every_run_with_its_results(store: RunStore) -> None:
    at = open_page(RUNS)
    assert at.selectbox(key="runs:pick").value == ids(store)[FAILED]  # the newest run is picked first
    table = at.dataframe[0].value.set_index("name")
    assert sorted(table.index) == sorted([*SEEDED, FAILED])
    assert table.loc["video · fast lr", "lr"] == 2e-3 and table.loc["video · fast lr", "n_step"] == 3
    assert list(table.loc["video · baseline", "status"]) == ["finished"]
    finished = table.loc[list(SEEDED)]
    assert finished["dqn_return"].notna().all() and finished["best_baseline"].notna().all()
    # the lift is shown in percent points (one format for every percentage)
    assert finished["lift"].tolist() == (100 * (finished["dqn_return"] / finished["best_baseline_return"] - 1)).tolist()
    pick(at, ids(store)["video · baseline"])
    assert [m.label for m in at.metric][:1] == ["DQN return"] and at.metric[0].value != "—"
    assert len(at.get("plotly_chart")) == 1  # its learning curve against the baselines


def test_filters_and_sort_narrow_and_order_the_table(store: RunStore) -> None:
    store.set_notes(ids(store)["video · baseline"], "Try a LOWER gamma next")
    at = open_page(RUNS)
    at.text_input(key="runs:search").set_value("lower").run()
    assert table_names(at) == ["video · baseline"]  # notes are searched too, in any case
    at.text_input(key="runs:search").set_value("").run()
    at.multiselect(key="runs:status").select("failed").run()
    assert table_names(at) == [FAILED]
    at.multiselect(key="runs:status").unselect("failed").run()
    at.multiselect(key="runs:preset").select("video").run()
    assert table_names(at) == sorted(SEEDED)
    at.selectbox(key="runs:sort").select("name").run()
    assert list(at.dataframe[0].value["name"]) == sorted(SEEDED)
    assert "2 of 3 runs" in texts(at.caption)[0]


def test_failed_run_shows_its_error_and_cannot_resume(store: RunStore) -> None:
    at = pick(open_page(RUNS), ids(store)[FAILED])
    assert any("simulated failure" in e for e in texts(at.error))
    assert button(at, "Resume training").disabled
    assert any("No model was saved" in c for c in texts(at.caption))
    assert at.metric[0].value == "—"


def test_rename_and_notes_persist_in_the_store(store: RunStore) -> None:
    run_id = ids(store)["video · fast lr"]
    at = pick(open_page(RUNS), run_id)
    at.text_input(key=f"runs:name:{run_id}").set_value("  lr 2e-3  ")
    at.text_area(key=f"runs:notes:{run_id}").set_value("Learns faster, ends lower.")
    button(at, "Save").click().run()
    assert not at.exception and "Saved." in texts(at.success)
    run = store.get_run(run_id)
    assert (run["name"], run["notes"]) == ("lr 2e-3", "Learns faster, ends lower.")
    assert "lr 2e-3" in table_names(at)
    at.text_input(key=f"runs:name:{run_id}").set_value(" ")
    button(at, "Save").click().run()
    assert any("needs a name" in e for e in texts(at.error)) and store.get_run(run_id)["name"] == "lr 2e-3"


def test_delete_needs_confirmation(store: RunStore, isolated_home: Path) -> None:
    run_id = ids(store)["video · fast lr"]
    at = pick(open_page(RUNS), run_id)
    assert button(at, "Delete run").disabled
    at.checkbox(key=f"runs:confirm:{run_id}").check().run()
    assert not button(at, "Delete run").disabled
    button(at, "Delete run").click().run()
    assert not at.exception
    assert "video · fast lr" not in ids(store) and not (isolated_home / "checkpoints" / run_id).exists()
    assert any("Deleted **video · fast lr**" in s for s in texts(at.success))
    assert table_names(at) == sorted([FAILED, "video · baseline"])
    assert at.selectbox(key="runs:pick").value != run_id


@pytest.mark.parametrize(("content", "reason"), [
    (b"not a zip at all", "is not a readable zip file"),
    (None, "is missing manifest.json: is it a dqn_sim run export?"),
])
def test_bad_zip_is_refused_with_a_reason_and_changes_nothing(store: RunStore, content: bytes | None,
                                                               reason: str, tmp_path: Path) -> None:
    if content is None:  # a real zip, but not a run export
        shutil.make_archive(str(tmp_path / "other"), "zip", root_dir=Path(__file__).parent, base_dir="conftest.py")
        content = (tmp_path / "other.zip").read_bytes()
    before = store.list_runs()
    at = open_page(RUNS)
    at.file_uploader(key="runs:import").set_value(("colleague.zip", content, "application/zip")).run()
    assert not at.exception
    assert any(e.startswith("Not imported: ") and reason in e for e in texts(at.error))
    assert store.list_runs().equals(before)


def test_exported_zip_imports_back_as_a_new_run(store: RunStore) -> None:
    run_id = ids(store)["video · baseline"]
    data = history.export_bytes(run_id)
    at = open_page(RUNS)
    at.file_uploader(key="runs:import").set_value(("baseline.zip", data, "application/zip")).run()
    assert not at.exception and any("Imported **video · baseline**" in s for s in texts(at.success))
    new_id = at.selectbox(key="runs:pick").value  # the imported run is picked
    assert new_id != run_id and store.get_run(new_id)["source"] == "import"
    assert store.metrics(new_id).equals(store.metrics(run_id))
    assert store.checkpoint_path(new_id).read_bytes() == store.checkpoint_path(run_id).read_bytes()


def test_load_into_scenario_and_train_takes_its_settings(store: RunStore) -> None:
    run = store.get_run(ids(store)["video · fast lr"])
    at = open_page(RUNS)
    pick(at, run["id"])
    button(at, "Load into Scenario & Train").click().run()
    assert not at.exception
    assert at.session_state["scenario"] == run["scenario"]
    assert at.session_state["agent_cfg"] == run["agent"] and at.session_state["train_cfg"] == run["train"]
    assert at.title[0].value == "Train"  # it went on to the Train page, whose form shows the run's settings
    assert at.number_input(key="agent.lr").value == 2e-3 and at.number_input(key="train.seed").value == 1


def test_resume_trains_on_from_the_checkpoint_as_this_sessions_job(store: RunStore) -> None:
    run = store.get_run(ids(store)["video · baseline"])
    at = pick(open_page(RUNS), run["id"])
    button(at, "Resume training").click().run()
    assert not at.exception
    (job,) = registry().jobs()
    assert job.init_from == store.checkpoint_path(run["id"]) and job.name == "video · baseline · resumed"
    assert at.session_state["run_id"] == job.id and at.query_params["run"] == job.id
    assert at.title[0].value == "Train"
    job.stop()
    assert job.join(TIMEOUT) and job.snapshot().state in ("stopped", "finished")


def test_resume_waits_in_the_queue_while_every_slot_is_taken(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry(), "max_running", 0)
    at = pick(open_page(RUNS), ids(store)["video · baseline"])
    button(at, "Resume training").click().run()
    assert not registry().jobs() and registry().queued(at.session_state["run_id"]).position == 1
    assert any("Queued, number 1" in i for i in texts(at.info))
    registry().stop(at.session_state["run_id"])  # leaves the queue


def test_empty_store_invites_to_train_or_import() -> None:
    at = open_page(RUNS)
    assert not at.exception and "No runs yet" in at.info[0].value and not at.dataframe


def comparison() -> None:
    from ui.history import stored_runs_comparison

    stored_runs_comparison()


def test_stored_runs_comparison_draws_every_view(store: RunStore) -> None:
    at = AppTest.from_function(comparison, default_timeout=TIMEOUT).run()
    assert not at.exception
    evaluated = [run_id for name, run_id in ids(store).items() if name != FAILED]  # newest first, up to three
    assert at.multiselect(key="history:runs").value == evaluated
    assert len(at.get("plotly_chart")) == 4  # curves, final results, one setting, segments
    final = at.dataframe[0].value
    assert set(SEEDED) <= set(final["series"]) and final["return_ci"].str.contains("–").all()
    params = set(at.selectbox(key="history:param").options)
    assert params >= {"Learning rate", "Discount γ (weight of the future)", "Seed"}
    at.segmented_control(key="history:view").set_value("parcoords").run()
    assert not at.exception and len(at.get("plotly_chart")) == 4
    at.multiselect(key="history:runs").set_value(list(ids(store).values())).run()  # one never evaluated
    assert any(f"Not evaluated on held-out users yet: {FAILED}" in c for c in texts(at.caption))
    assert FAILED not in set(at.dataframe[0].value["series"])
    at.segmented_control(key="history:source").set_value("train").run()
    at.segmented_control(key="history:x").set_value("wall_time").run()
    assert not at.exception and len(at.get("plotly_chart")) == 4
    at.multiselect(key="history:runs").set_value([]).run()
    assert "Choose one or more runs" in at.info[0].value


def test_stored_runs_comparison_of_an_empty_store() -> None:
    at = AppTest.from_function(comparison, default_timeout=TIMEOUT).run()
    assert not at.exception and "No stored runs yet" in at.info[0].value


@pytest.mark.parametrize("name", ["..", "../../escape.zip", "/", ""])
def test_an_upload_name_is_never_a_path(store: RunStore, name: str) -> None:
    """The browser sends the name: it is written inside a temporary folder, so a bad file is refused for what it
    holds, never fails on where it would be written."""
    with pytest.raises(RunImportError, match="is not a readable zip file"):
        history.import_run(name, b"not a zip")
