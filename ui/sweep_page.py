"""The Sweep page's helpers: which knobs it offers, ranges read from what people type, and the server's sweeps.

A sweep started here runs on a thread of the server (``SweepJob``), its trials' training in processes of their
own, so it goes on across reruns, page switches and sessions. It counts in the server's training slots
(``JobRegistry``) like runs do, one per trial at once: beyond them it waits in the same queue. Everything shown is
read from its Optuna study, in the same storage the CLI uses (``sweeps.sqlite3`` beside the run store), so a sweep
started on the command line shows here too, and one started here can be resumed from either.
"""

from __future__ import annotations

from typing import Any, TypeVar

import streamlit as st

from dqn_sim.assembly import RunConfig
from dqn_sim.config import AgentConfig, ConfigError, ScenarioConfig, TrainConfig
from dqn_sim.presets import DEFAULT_PRESET, preset_names
from dqn_sim.sweep import study as studies
from dqn_sim.sweep.background import SweepJob
from dqn_sim.sweep.executors import LocalExecutor
from dqn_sim.sweep.space import SET_ELSEWHERE, Param, knobs, parse_param
from dqn_sim.sweep.spec import SweepSpec, base_config, check_memory
from dqn_sim.train.groups import cores
from dqn_sim.train.registry import QueuePlace
from ui import forms
from ui.state import queue_text, registry, store, who

T = TypeVar("T")
DEFAULT_KNOBS = ("agent.lr", "agent.gamma")
KEPT = "sweep:kept"  # the form's values at its last drawing


@st.cache_resource
def sweeps() -> dict[str, SweepJob]:
    """The sweeps this server drives, by name (shared by every session)."""
    return {}


def kept(key: str, default: T) -> T:
    """A form field's value from before another page was shown: Streamlit drops the state of the widgets a run does
    not draw, so the page gives this to the widget as its default (never into its state: ``ui.state.view_value``
    says why)."""
    return st.session_state.get(KEPT, {}).get(key, default)


def keep(values: dict[str, Any]) -> None:
    """Remember the form's fields (by widget key) for the next visit of the page."""
    st.session_state[KEPT] = values


def storage_url() -> str:
    """The study storage beside this server's run store."""
    return studies.default_storage(store().home)


def searchable() -> list[str]:
    """Every knob a sweep can search: numbers with both bounds, switches and choices."""
    out = []
    for path in knobs():
        try:
            parse_param(path)
        except ConfigError:  # lists, free text, unbounded numbers, and what --steps/--seed set
            continue
        out.append(path)
    return [p for p in out if p not in SET_ELSEWHERE]


def knob_label(path: str) -> str:
    return f"{forms.label(path, knobs()[path])} · {path}"


def whole_range(path: str) -> str:
    """What a knob's range field starts with: its whole allowed range (log where it spans decades), or choices."""
    return parse_param(path).text().partition("=")[2]


def read_param(path: str, text: str) -> Param:
    """The range or choices typed for a knob, as ``--param`` reads them; ConfigError names what is wrong."""
    return parse_param(f"{path}={text.strip()}")


def spec_for(name: str, scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig, params: tuple[Param, ...],
             *, seeds: int, steps: int, sampler: str, pruner: str, objective: str) -> SweepSpec:
    """A sweep of this session's settings: its scenario and its Train form, the knobs searched on top."""
    preset = scenario.name if scenario.name in preset_names() else DEFAULT_PRESET
    config = {"scenario": scenario.to_dict(), "agent": agent.to_dict(), "train": train.to_dict()}
    return SweepSpec(name=name, preset=preset, config=config, overrides=(), params=params, seeds=seeds,
                     first_seed=train.seed, steps=steps, objective=objective, sampler=sampler, pruner=pruner)


def max_parallel() -> int:
    """Trials at once a sweep may ask for: each takes one of the server's training slots."""
    return registry().max_running


def default_parallel(seeds: int) -> int:
    """One training process per core (a trial trains its seeds at once), within the server's slots."""
    return min(max_parallel(), max(1, cores() // seeds))


def start(spec: SweepSpec, n_trials: int, parallel: int) -> SweepJob:
    """Start (or, under a name the storage knows, resume) a sweep on this server, as this person's: now if its
    slots are free, else once they are (``queued`` says where it waits). ``MemoryLimitError`` before anything is
    stored or queued if its trials at once could need more memory than the limit."""
    slots = min(parallel, max_parallel())
    check_memory(spec, slots)
    study, n_trials = studies.open_sweep(spec, n_trials, storage_url())
    job = SweepJob(study, storage_url(), str(store().home), LocalExecutor(slots), n_trials)
    registry().admit(job, owner=who())
    sweeps()[spec.name] = job
    return job


def stop(job: SweepJob) -> None:
    """Stop a sweep, or take it out of the queue (a callback)."""
    registry().stop(job.id)


def queued(job: SweepJob) -> QueuePlace | None:
    return registry().queued(job.id)


def queue_note(job: SweepJob, place: QueuePlace) -> str:
    """Where a waiting sweep stands: its place, the runs holding the slots with their owners and ends, how many
    wait before it, and roughly when a slot frees (as the Train page says it of a run)."""
    return queue_text(place, f"the sweep needs {job.slots} of this server's {max_parallel()} training slots (one per "
                      "trial at once), held by {holders}", "wait(s) before it", "they are free", nobody="nobody yet")


def running(name: str) -> SweepJob | None:
    """The sweep of that name this server drives now (waiting for slots, running or stopping), if any."""
    job = sweeps().get(name)
    return job if job is not None and job.state in ("pending", "running", "stopping") else None


def trial_config(spec: SweepSpec, params: dict) -> RunConfig:
    """A trial's configuration as the Train page takes it: for the settings' own budget, not the sweep's."""
    return base_config(spec, params, budget=False)
