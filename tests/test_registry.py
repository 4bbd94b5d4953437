"""The studio's slots: a queue instead of a refusal, groups count once, an idle pause gives its slot back, a sweep
takes one per trial it runs at once; limits from the environment that make no sense are refused in one line."""

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from dqn_sim.sweep import study as studies
from dqn_sim.sweep.background import SweepJob
from dqn_sim.sweep.space import distributions, parse_params
from dqn_sim.sweep.spec import SweepSpec, TrialOutcome, TrialTask
from dqn_sim.train.groups import cores
from dqn_sim.train.registry import JobRegistry
from tests.test_job import AGENT, SCENARIO, _train, _wait
from tests.test_sweep import pytestmark  # noqa: F401  (the sweep's warning filters)


def test_a_start_beyond_the_slots_waits_in_the_queue_and_begins_when_one_frees():
    registry = JobRegistry(max_running=2)
    a = registry.start(SCENARIO, AGENT, _train(), owner="ann")
    registry.start(SCENARIO, AGENT, _train(), owner="bob")
    c = registry.start(SCENARIO, AGENT, _train(), owner="cem")
    place = registry.queued(c.id)
    assert place.position == 1 and {h.owner for h in place.holding} == {"ann", "bob"}
    registry.pause(a.id)  # the one waiting is told which holder is paused (no end in sight), not just 'no ETA'
    _wait(lambda: {h.owner: h.state for h in registry.queued(c.id).holding}["ann"] == "paused")
    assert registry.running_count() == 2 and registry.owner(c.id) == "cem"
    registry.stop(a.id)
    _wait(lambda: registry.queued(c.id) is None)  # started by itself
    _wait(lambda: c.status().state == "running")
    registry.stop_all()
    assert registry.running_count() == 0 and a.snapshot().state == "stopped"


def test_a_queued_run_that_is_stopped_leaves_the_queue_without_starting():
    registry = JobRegistry(max_running=1)
    a = registry.start(SCENARIO, AGENT, _train())
    b = registry.start(SCENARIO, AGENT, _train())
    registry.stop(b.id)
    assert registry.queued(b.id) is None and registry.get(b.id) is None and b.status().state == "pending"
    registry.stop_all()
    assert a.join(60)


def test_a_run_paused_longer_than_the_idle_time_gives_its_slot_to_the_queue_and_waits_to_resume():
    registry = JobRegistry(max_running=1, idle_release_s=0.5)
    a = registry.start(SCENARIO, AGENT, _train(), owner="idle")
    _wait(lambda: a.status().state == "running")
    registry.pause(a.id)
    b = registry.start(SCENARIO, AGENT, _train(), owner="busy")
    assert registry.queued(b.id).position == 1  # paused, but not idle for long yet: it holds the slot
    time.sleep(0.6)
    _wait(lambda: registry.queued(b.id) is None)  # the idle run released it
    assert a.status().state == "paused"  # its state is kept
    registry.resume(a.id)  # no slot free: it waits its turn
    assert registry.queued(a.id).position == 1 and a.status().state == "paused"
    registry.stop(b.id)
    _wait(lambda: a.status().state == "running")
    registry.stop_all()


def test_a_group_counts_as_one_run_toward_the_slots():
    registry = JobRegistry(max_running=1)
    group = registry.start_group(SCENARIO, AGENT, _train(), seeds=[0, 1], owner="ann")
    assert registry.group(group.id) is group and registry.running_count() == 1
    member = group.members[0]
    assert registry.get(member.id) is member and registry.owner(member.id) == "ann"
    single = registry.start(SCENARIO, AGENT, _train())
    assert registry.queued(single.id).position == 1
    registry.stop_all()
    assert group.join(60)


class GatedExecutor:
    """A sweep's executor whose trials ask the study, then wait for ``gate`` before telling it a value: the test
    decides when the sweep's trials end, and no training process takes the cores."""

    name = "gated"

    def __init__(self, slots: int, gate: threading.Event) -> None:
        self.slots, self.gate, self.submitted = slots, gate, 0
        self._pool = ThreadPoolExecutor(max_workers=slots)

    def submit(self, task: TrialTask) -> Future[TrialOutcome]:
        self.submitted += 1
        return self._pool.submit(self._trial, task)

    def _trial(self, task: TrialTask) -> TrialOutcome:
        study, spec = studies.load(task.name, task.storage_url)
        trial = study.ask(distributions(spec.params))
        self.gate.wait()
        study.tell(trial, 1.0)
        return TrialOutcome(trial.number, "complete", 1.0)

    def interrupt(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _sweep(tmp_path, name: str, slots: int, gate: threading.Event) -> SweepJob:
    spec = SweepSpec(name=name, preset="video", config=None, overrides=(),
                     params=parse_params(["agent.gamma=0.8:0.99"]), seeds=1, first_seed=0, steps=10_000)
    url = studies.default_storage(tmp_path)
    study, n_trials = studies.open_sweep(spec, 2, url)
    return SweepJob(study, url, str(tmp_path), GatedExecutor(slots, gate), n_trials)


def test_a_sweep_takes_a_slot_per_parallel_trial_queues_for_them_and_gives_them_back_when_it_ends(tmp_path):
    registry = JobRegistry(max_running=2)
    gate = threading.Event()
    a = registry.start(SCENARIO, AGENT, _train(), owner="ann")
    sweep = _sweep(tmp_path, "two-at-once", 2, gate)
    registry.admit(sweep, owner="bob")
    place = registry.queued(sweep.id)  # one slot is free, the sweep needs two
    assert place is not None and place.position == 1 and sweep.state == "pending" and sweep.executor.submitted == 0
    c = registry.start(SCENARIO, AGENT, _train(), owner="cem")
    assert registry.queued(c.id).position == 2  # behind the sweep, though a slot is free: first come, first served
    registry.stop(a.id)
    _wait(lambda: sweep.state == "running" and registry.queued(sweep.id) is None)
    assert registry.running_count() == 2 and registry.owner(sweep.id) == "bob"
    assert registry.queued(c.id).position == 1  # the sweep holds both slots
    _wait(lambda: sweep.executor.submitted == 2)
    gate.set()  # both trials end: the sweep has its two and gives the slots back
    assert sweep.join(60) and sweep.state == "finished"
    _wait(lambda: registry.queued(c.id) is None)
    _wait(lambda: c.status().state == "running")
    assert registry.running_count() == 1 and c in registry.jobs() and sweep not in registry.jobs()
    registry.stop_all()


def test_a_queued_sweep_that_is_stopped_never_starts_and_says_so(tmp_path):
    registry = JobRegistry(max_running=1)
    a = registry.start(SCENARIO, AGENT, _train())
    sweep = _sweep(tmp_path, "never", 1, threading.Event())
    registry.admit(sweep)
    registry.stop(sweep.id)
    assert registry.queued(sweep.id) is None and sweep.join(0) and sweep.state == "stopped"
    assert sweep.executor.submitted == 0
    registry.stop_all()
    assert a.join(60)


def test_a_sweep_asking_more_slots_than_the_server_has_is_refused(tmp_path):
    with pytest.raises(ValueError, match="asks for 3 training slots; this server has 2"):
        JobRegistry(max_running=2).admit(_sweep(tmp_path, "too-wide", 3, threading.Event()))


@pytest.mark.parametrize("value", ["abc", "0", "-2", "2.5", "1e3"])
def test_a_slot_count_that_is_no_integer_of_at_least_one_is_refused_in_one_line_and_the_default_used(
        monkeypatch, value):
    """'abc' crashed every page; '0' queued every run for ever."""
    monkeypatch.setenv("DQN_SIM_MAX_JOBS", value)
    registry = JobRegistry()
    assert registry.max_running == cores()
    assert registry.warnings == [f"DQN_SIM_MAX_JOBS must be an integer >= 1, got {value!r}: using {cores()} "
                                 "training slots (one per core) instead"]


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_an_idle_time_that_is_no_number_of_seconds_is_refused_in_one_line_and_the_default_used(monkeypatch, value):
    monkeypatch.setenv("DQN_SIM_IDLE_RELEASE_S", value)
    registry = JobRegistry()
    assert registry.idle_release_s == 600.0
    assert registry.warnings == [f"DQN_SIM_IDLE_RELEASE_S must be a number of seconds >= 0, got {value!r}: using "
                                 "600 seconds instead"]


def test_valid_limits_from_the_environment_are_taken_without_a_word(monkeypatch):
    monkeypatch.setenv("DQN_SIM_MAX_JOBS", " 3 ")
    monkeypatch.setenv("DQN_SIM_IDLE_RELEASE_S", "0")
    registry = JobRegistry()
    assert (registry.max_running, registry.idle_release_s, registry.warnings) == (3, 0.0, [])
