"""The studio's slots: a queue instead of a refusal, groups count once, an idle pause gives its slot back."""

import time

from dqn_sim.train.registry import JobRegistry
from tests.test_job import AGENT, SCENARIO, _train, _wait


def test_a_start_beyond_the_slots_waits_in_the_queue_and_begins_when_one_frees():
    registry = JobRegistry(max_running=2)
    a = registry.start(SCENARIO, AGENT, _train(), owner="ann")
    registry.start(SCENARIO, AGENT, _train(), owner="bob")
    c = registry.start(SCENARIO, AGENT, _train(), owner="cem")
    place = registry.queued(c.id)
    assert place.position == 1 and {h.owner for h in place.holding} == {"ann", "bob"}
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
