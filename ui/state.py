"""What a browser session remembers: its scenario, its training jobs, and which job it is watching.

Jobs live in one process-wide registry (``st.cache_resource``), so training goes on across reruns and page
switches. A session remembers its job id in ``st.session_state`` and mirrors it in the URL
(``?run=<id>``): a reload, or a second tab opened on that URL, reattaches to the job, while a tab without
it starts and watches its own.
"""

from __future__ import annotations

import streamlit as st

from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.presets import DEFAULT_PRESET, get_preset
from dqn_sim.store import RunStore
from dqn_sim.train.job import JobRegistry, TrainingJob
from dqn_sim.train.recording import StoreObserver

MAX_RUNNING = 2  # jobs training at once in this server (each takes a core)


@st.cache_resource
def store() -> RunStore:
    """The run history (SQLite under $DQN_SIM_HOME); opening it marks runs of a dead server interrupted."""
    return RunStore()


@st.cache_resource
def registry() -> JobRegistry:
    """The server's job registry, shared by every session; every job is recorded in the run store."""
    runs = store()
    return JobRegistry(max_running=MAX_RUNNING, observer_factory=lambda: StoreObserver(runs))


def current_scenario() -> ScenarioConfig:
    """The scenario this session works on: the last valid one edited on the Scenario page."""
    if "scenario" not in st.session_state:
        st.session_state.scenario = get_preset(DEFAULT_PRESET)
    return st.session_state.scenario


def set_scenario(scenario: ScenarioConfig) -> None:
    st.session_state.scenario = scenario


def attach_job() -> None:
    """Reconcile the session's job id with the URL; called once per run by the app, before any page."""
    reg = registry()
    job_id = st.session_state.get("job_id")
    if job_id and reg.get(job_id) is None:  # the server restarted since: the job is gone
        job_id = st.session_state.job_id = None
    url_id = st.query_params.get("run")
    if job_id is None and url_id and (job := reg.get(url_id)) is not None:
        job_id = st.session_state.job_id = url_id
        _remember(url_id)
        # the reattached session works on that run's settings, as the session that started it did
        st.session_state.scenario = job.scenario
        st.session_state.agent_cfg, st.session_state.train_cfg = job.agent_cfg, job.train_cfg
    if job_id and url_id != job_id:
        st.query_params["run"] = job_id


def _remember(job_id: str) -> None:
    ids = st.session_state.setdefault("run_ids", [])
    if job_id not in ids:
        ids.append(job_id)


def active_job() -> TrainingJob | None:
    """The job this session watches (the last one it started or reattached to)."""
    return registry().get(st.session_state.get("job_id"))


def session_jobs() -> list[TrainingJob]:
    """Jobs of this session, oldest first (what Compare overlays and Inspect can load)."""
    reg = registry()
    return [job for job_id in st.session_state.get("run_ids", []) if (job := reg.get(job_id)) is not None]


def start_job(scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig) -> TrainingJob:
    """Start training in the background and make it this session's job (``RegistryFull`` when busy)."""
    job = registry().start(scenario, agent, train)
    st.session_state.job_id = job.id
    _remember(job.id)
    st.query_params["run"] = job.id
    return job
