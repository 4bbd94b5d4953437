"""On a shared studio a rename or a deletion says who did it and when, and the record outlives the run."""

from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.presets import get_preset
from dqn_sim.store import RunStore


def test_renames_and_deletions_are_recorded_with_who_and_when(tmp_path):
    with RunStore(tmp_path) as store:
        run_id = store.create_run(name="first", scenario=get_preset("video"), agent=AgentConfig(),
                                  train=TrainConfig(), seed=0, source="app")
        store.rename(run_id, "second", by="ann@example.com")
        store.delete(run_id, by="bob@example.com")
        events = store.events(run_id)
    assert [(e["action"], e["who"], e["detail"]) for e in events] == [
        ("rename", "ann@example.com", "second"), ("delete", "bob@example.com", "second")]
    assert events[0]["at"] <= events[1]["at"]
