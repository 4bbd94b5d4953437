"""What a browser session remembers: its scenario and settings, and which run it looks at. Nothing else.

Runs live in the store (``dqn_sim.store``), which outlives the browser session and the server; jobs that train
now live in one process-wide registry (``st.cache_resource``), so training goes on across reruns and page
switches. A job's id is its run's id. The session remembers the selected run id in ``st.session_state`` and
mirrors it in the URL (``?run=<id>``): a reload, a second tab, or a link opened after a server restart shows
the same run, live while it trains and from the store afterwards.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import streamlit as st

from dqn_sim import memory, model_files
from dqn_sim.agents.dqn import CheckpointError
from dqn_sim.assembly import RunConfig, from_preset, run_name
from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.errors import one_line
from dqn_sim.presets import DEFAULT_PRESET
from dqn_sim.runs import GroupView, group_view, is_group, run_snapshot
from dqn_sim.store import RunNotFound, RunStore, StoreError
from dqn_sim.train.group_recording import StoreGroupRecorder
from dqn_sim.train.groups import GroupJob, members_at_once, seed_range
from dqn_sim.train.job import JobSnapshot, TrainingJob
from dqn_sim.train.recording import StoreObserver
from dqn_sim.train.registry import Ahead, JobRegistry, QueuePlace
from ui import forms
from ui.fmt import duration, inert, plain

T = TypeVar("T")
LINEUP = "lineup"  # session and URL key of the runs started side by side with the selected one


@st.cache_resource
def store() -> RunStore:
    """The run history (SQLite under $DQN_SIM_HOME); opening it marks runs of a dead server interrupted."""
    return RunStore()


@st.cache_resource
def registry() -> JobRegistry:
    """The server's runs, shared by every session: slots (``DQN_SIM_MAX_JOBS``, default one per core), a queue
    beyond them, and every run and group recorded in the run store with the account that started it."""
    runs = store()
    return JobRegistry(observer_factory=lambda owner: StoreObserver(runs, started_by=account(owner)),
                       group_recorder_factory=lambda owner: StoreGroupRecorder(runs, started_by=account(owner)))


def current_scenario() -> ScenarioConfig:
    """The scenario this session works on: the last valid one edited on the Scenario page."""
    if "scenario" not in st.session_state:
        use_config(from_preset(DEFAULT_PRESET), forms_too=False)
    return st.session_state.scenario


def set_scenario(scenario: ScenarioConfig) -> None:
    st.session_state.scenario = scenario


def agent_config() -> AgentConfig:
    current_scenario()
    return st.session_state.agent_cfg


def train_config() -> TrainConfig:
    current_scenario()
    return st.session_state.train_cfg


def use_config(config: RunConfig, *, forms_too: bool = True) -> None:
    """Make a run configuration this session's: the scenario, and the agent and training settings of the Train
    form. With ``forms_too`` the forms' widgets show it as well (call from a callback or before they are drawn)."""
    st.session_state.scenario = config.scenario
    st.session_state.agent_cfg, st.session_state.train_cfg = config.agent, config.train
    if forms_too:
        for scope, cfg in (("scenario", config.scenario), ("agent", config.agent), ("train", config.train)):
            forms.load(scope, cfg)


def attach_run() -> None:
    """Reconcile the session's selected run with the URL; called once per script run by the app, before any page.

    A URL naming a run this session has not selected yet (a reload, a shared link, a restarted server) selects
    it and takes up that run's settings, so the pages show the run with the scenario it was trained on.
    """
    run_id = st.session_state.get("run_id")
    url_id = st.query_params.get("run")
    if url_id and url_id != run_id and _exists(url_id):
        run_id = st.session_state.run_id = url_id
        snap = selected_snapshot()
        if snap is not None:
            use_config(RunConfig(snap.scenario, snap.agent, snap.train))
            st.session_state.pop("scenario:preset", None)  # the Scenario page picks the matching preset again
    if run_id and url_id != run_id:
        st.query_params["run"] = run_id
    url_lineup = [i for i in st.query_params.get(LINEUP, "").split(",") if i]
    if url_lineup and url_lineup[0] == run_id and url_lineup != selected_lineup() and all(map(_exists, url_lineup)):
        st.session_state[LINEUP] = url_lineup  # a reload or a shared link of runs trained side by side
    elif selected_lineup() and url_lineup != selected_lineup():
        st.query_params[LINEUP] = ",".join(selected_lineup())


def _exists(run_id: str) -> bool:
    if registry().get(run_id) is not None or is_group(store(), registry(), run_id):
        return True
    try:
        store().get_run(run_id)
    except (RunNotFound, StoreError):  # gone, or its row is damaged (the Runs page says so): nothing to select
        return False
    return True


def select_run(run_id: str) -> None:
    """Look at another run (from a callback: the pages then draw it), on its own."""
    st.session_state.run_id = run_id
    st.query_params["run"] = run_id
    st.session_state.pop(LINEUP, None)
    st.query_params.pop(LINEUP, None)


def select_lineup(run_ids: Sequence[str]) -> None:
    """Look at runs (or groups) trained side by side: the first is the selected run (the sidebar, Inspect and
    Compare show it), all of them in the URL (``?lineup=a,b``) so a reload or a shared link shows them together."""
    select_run(run_ids[0])
    st.session_state[LINEUP] = list(run_ids)
    st.query_params[LINEUP] = ",".join(run_ids)


def selected_lineup() -> list[str]:
    """The runs started side by side with the selected one, the selected first; empty when it trained alone."""
    ids = st.session_state.get(LINEUP) or []
    return list(ids) if ids and ids[0] == selected_run_id() else []


def selected_run_id() -> str | None:
    return st.session_state.get("run_id")


def selected_job() -> TrainingJob | None:
    """The selected run's job, if it trains in this server now (else the run is read from the store)."""
    return registry().get(selected_run_id())


def snapshot(run_id: str) -> JobSnapshot | None:
    """Any run by id, live or stored; None if it is gone (deleted, or a store that was moved)."""
    try:
        return run_snapshot(store(), registry(), run_id)
    except (RunNotFound, StoreError):  # gone, or its stored row is damaged (the Runs page lists it as such)
        return None


def run_group(group_id: str) -> GroupView | None:
    """A run group by id, live or stored; None if the id names no group."""
    return group_view(store(), registry(), registry(), group_id) if is_group(store(), registry(), group_id) else None


def selected_snapshot() -> JobSnapshot | None:
    run_id = selected_run_id()
    return snapshot(run_id) if run_id else None


def who() -> str:
    """This person, as the studio can tell: the signed-in user where Streamlit's authentication (``st.login``) is
    configured, else this browser (the token in Streamlit's XSRF cookie, which survives reloads), else this session."""
    try:
        if st.user.is_logged_in:
            return f"user:{st.user.get('email') or st.user.get('sub')}"
    except (AttributeError, KeyError, RuntimeError):  # authentication is not configured
        pass
    cookie = st.context.cookies.get("_streamlit_xsrf")
    if isinstance(cookie, str) and cookie:
        return "browser:" + hashlib.sha256(xsrf_token(cookie).encode()).hexdigest()[:16]
    return "session:" + st.session_state.setdefault("session_token", secrets.token_hex(8))


def xsrf_token(cookie: str) -> str:
    """The browser's token in Streamlit's XSRF cookie ``2|mask|masked token|time``: every page load sets the cookie
    again with a fresh mask over the same token, so the cookie's text changes on a reload and the token does not."""
    version, *parts = cookie.split("|")
    if version == "2" and len(parts) == 3:
        try:
            mask, masked = bytes.fromhex(parts[0]), bytes.fromhex(parts[1])
        except ValueError:
            return cookie
        if mask:
            return bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked)).hex()
    return cookie


def account(owner: str | None) -> str | None:
    """The signed-in account an owner is (its e-mail), None for a visitor who is not signed in: what a stored run
    keeps as who started it, since a browser's token names nobody and means nothing after the server is gone."""
    kind, _, ident = (owner or "").partition(":")
    return ident if kind == "user" else None


def display_name(owner: str | None) -> str:
    """An owner as people read it: the user's e-mail, or which kind of visitor it was."""
    if owner is None:
        return "the command line or another server"
    return account(owner) or f"another studio visitor ({owner.partition(':')[2][:4]})"


def holder(ahead: Ahead) -> str:
    """A run (or sweep) holding a slot, as someone waiting for one reads it: its name, whose it is, when it may end."""
    when = (f"about {duration(ahead.eta_s)} left" if ahead.eta_s else "paused" if ahead.state == "paused"
            else "no estimate yet")
    return f"{plain(ahead.name)} ({plain(display_name(ahead.owner))}, {when})"


def waiting(ahead: Ahead) -> str:
    """A run (or sweep) waiting in the queue before another: its name and whose it is."""
    return f"{plain(ahead.name)} ({plain(display_name(ahead.owner))})"


def queue_text(place: QueuePlace, slots: str, waits: str, frees: str, nobody: str = "") -> str:
    """Where a waiting run or sweep stands: its place, who holds the slots (``slots`` says it, with ``{holders}``
    where they go; ``nobody`` when none does), how many wait before it, and roughly when a slot frees."""
    holders = "; ".join(map(holder, place.holding)) or nobody
    before = "; ".join(map(waiting, place.waiting_before))
    eta = f" A slot may free in about {duration(place.eta_s)}." if place.eta_s else ""
    return (f"**Queued, number {place.position}**: {slots.format(holders=holders)}; {len(place.waiting_before)} "
            f"{waits}{f' ({before})' if before else ''}. It starts by itself when {frees}.{eta}")


def watch_only(run_id: str) -> str:
    """What someone who did not start a run (or sweep) is told: who did, and that they may watch it, not steer it."""
    return f"Started by {plain(display_name(registry().owner(run_id)))}: you can watch it, not steer it."


def owns(run_id: str) -> bool:
    """Whether this person started the run (or its group) here and may steer it; everyone else watches."""
    return registry().owner(run_id) == who()


def start_problem(scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig, *, seeds: int = 1,
                  lineup: Sequence[str] = (), init_from: Path | None = None) -> str | None:
    """Why ``start_job`` with these arguments (or ``start_lineup`` of the ``lineup`` learners, all training at
    once, each with its own model) would not fit this server's memory (the estimate's biggest part and the limit),
    or its checkpoint could not be built: one line of Markdown-safe text; None when it may start."""
    try:
        memory.lineup(scenario, agent, train, lineup or [train.algo], runs=members_at_once(seeds)).check()
        if init_from is not None:
            model_files.check_size(init_from, train.algo, model_files.scene(scenario))
    except (memory.MemoryLimitError, CheckpointError) as e:
        return inert(one_line(e))
    return None


def start_job(scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig, *, seeds: int = 1,
              name: str | None = None, init_from: Path | None = None) -> TrainingJob | GroupJob:
    """Train in the background as this person's run, on ``seeds`` seeds (a group, from the training seed on), and
    select it; beyond the server's slots it waits in the queue. ``init_from``: a checkpoint to start from."""
    name = name or run_name(RunConfig(scenario, agent, train), seeds)
    if seeds > 1:
        entry: TrainingJob | GroupJob = registry().start_group(
            scenario, agent, train, seed_range(train.seed, seeds), name=name, owner=who())
    else:
        entry = registry().start(scenario, agent, train, name=name, init_from=init_from, owner=who())
    select_run(entry.id)
    return entry


def start_lineup(scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig, learners: Sequence[str], *,
                 seeds: int = 1) -> list[TrainingJob | GroupJob]:
    """Train each of ``learners`` on the same scenario, budget, users and seeds, side by side, and select them
    together (``select_lineup``).

    Each learner is an ordinary run (a group over ``seeds``), so each keeps its own stored result and reads, resumes
    and exports as any run; and each takes a slot of the server as any run does: beyond the free slots
    (``DQN_SIM_MAX_JOBS``) the rest wait in the queue, first in first out, and start as slots free.
    """
    entries = [start_job(scenario, agent, train.with_overrides({"algo": learner}), seeds=seeds)
               for learner in learners]
    select_lineup([entry.id for entry in entries])
    return entries


def view_value(key: str, param: str, default: T, parse: Callable[[str], T]) -> T:
    """The value a view widget (x-axis, smoothing…) starts from: this session's, else the URL's (which outlives a
    reload), else the default. Give it to the widget as its own default: a widget whose value was put into
    ``st.session_state`` before it was drawn keeps its bare default in the browser, which a live refresh racing
    the first draw sent back (the x-axis went to None and smoothing to 0 after a start)."""
    if st.session_state.get(key) is not None:
        return st.session_state[key]
    try:
        return parse(st.query_params[param]) if param in st.query_params else default
    except ValueError:
        return default


def view_to_url(key: str, param: str) -> None:
    """Keep a view setting in the URL (an ``on_change`` callback), so a reload or a shared link shows the same."""
    st.query_params[param] = str(st.session_state[key])
