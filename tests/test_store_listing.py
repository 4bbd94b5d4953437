"""The run list survives any stored row (issue 15): a row written before today's checks, or by hand, shows with
its problem instead of breaking the list for everyone."""

from __future__ import annotations

import json
import math
import sqlite3

import pandas as pd
import pytest

from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.store import RunStore, StoreError
from tests import test_store
from tests.test_store import fill, new_run

home, store = test_store.home, test_store.store  # the fixtures test_store's tests use

SUMMARY = {"dqn_return": 1.5, "dqn_return_ci": [1.4, 1.6], "best_baseline": "greedy", "best_baseline_return": 1.2}
BAD_ROWS = {  # run name -> (columns set by hand, what its problem says)
    "future": ({"created": 1e300}, "created must be a Unix time"),
    "textdate": ({"created": "yesterday", "updated": "today"}, "updated must be"),
    "badjson": ({"summary_json": "{"}, "summary_json is not a JSON object"),
    "list": ({"summary_json": "[1, 2]"}, "summary_json is not a JSON object"),
    "strret": ({"summary_json": json.dumps({**SUMMARY, "dqn_return": "high"})}, "summary.dqn_return must be"),
    "zerobase": ({"summary_json": json.dumps({**SUMMARY, "best_baseline_return": 0})}, "other than 0"),
    "numname": ({"summary_json": json.dumps({**SUMMARY, "best_baseline": 5})}, "summary.best_baseline must be"),
    "deep": ({"summary_json": "[" * 100_000 + "]" * 100_000}, "summary_json is not a JSON object"),
    "agent": ({"agent_json": "not json"}, "agent_json is not a JSON object"),
    "status": ({"status": "exploded"}, "unknown status 'exploded'"),
    "seed": ({"seed": "1180591620717411303424"}, None),  # a seed beyond 64 bits, as a bad import left it
}


def spoil(s: RunStore, run_id: str, **columns: object) -> None:
    con = sqlite3.connect(s.db_path)
    try:
        sets = ", ".join(f"{k} = ?" for k in columns)
        con.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*columns.values(), run_id))
        con.commit()
    finally:
        con.close()


def test_list_runs_survives_any_row(store: RunStore) -> None:
    fill(store, good := new_run(store, "good"))
    store.set_summary(good, SUMMARY)
    for name, (columns, _) in BAD_ROWS.items():
        run_id = new_run(store, name)
        store.set_summary(run_id, SUMMARY)
        spoil(store, run_id, **columns)
    runs = store.list_runs().set_index("name")
    assert len(runs) == len(BAD_ROWS) + 1 and runs.columns[-1] == "notes"
    assert pd.isna(runs.loc["good", "problem"]) and runs.loc["good", "dqn_return"] == 1.5
    for name, (_, problem) in BAD_ROWS.items():
        if problem is not None:
            assert problem in runs.loc[name, "problem"], name
    # what the Runs and Compare pages do with the list works on every row
    assert pd.to_datetime(runs["created"], unit="s", utc=True).isna().sum() == 2
    lift = runs["dqn_return"] / runs["best_baseline_return"] - 1
    assert lift.dtype == float and math.isclose(lift["good"], 0.25)
    assert runs["best_baseline"].map(lambda v: v is None or isinstance(v, str) or math.isnan(v)).all()
    assert pd.isna(runs.loc["seed", "seed"]) and runs.loc["good", "seed"] == 7
    assert pd.isna(runs.loc["agent", "lr"])


def test_get_run_leaves_out_summary_values_that_break_the_rules(store: RunStore) -> None:
    run_id = new_run(store)
    store.set_summary(run_id, SUMMARY)
    spoil(store, run_id, summary_json=json.dumps({**SUMMARY, "best_baseline_return": 0, "steps": 1000}))
    run = store.get_run(run_id)
    assert run["summary"] == {"steps": 1000}  # the DQN's return and lift are read together: all of them go
    assert "summary.best_baseline_return must be a finite number other than 0" in run["problem"]


def test_get_run_with_damaged_settings_is_a_store_error(store: RunStore) -> None:
    run_id = new_run(store)
    spoil(store, run_id, agent_json='{"lr": 99}')
    with pytest.raises(StoreError, match=f"run {run_id} in .* is damaged: its agent settings do not load"):
        store.get_run(run_id)


def test_rows_stored_as_text_read_as_missing_numbers(store: RunStore) -> None:
    run_id = new_run(store)
    store.append_metrics(run_id, [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}])
    con = sqlite3.connect(store.db_path)
    con.execute("UPDATE metrics SET loss = 'oops' WHERE step = 2")
    con.commit()
    con.close()
    m = store.metrics(run_id)
    assert m["loss"].dtype == float and m["loss"].iloc[0] == 0.5 and pd.isna(m["loss"].iloc[1])


def test_list_runs_shows_each_runs_own_learner_result(store: RunStore) -> None:
    """A rival's run (LinUCB) lists its own return and CTR, not the DQN's empty cells (issue 9)."""
    dqn = new_run(store, "dqn")
    store.set_summary(dqn, {**SUMMARY, "dqn_ctr": 0.3})
    rival = store.create_run(name="rival", scenario=ScenarioConfig(name="video"), agent=AgentConfig(),
                             train=TrainConfig(total_steps=1000, algo="linucb"), seed=7)
    store.set_summary(rival, {"linucb_return": 1.3, "linucb_return_ci": [1.2, 1.4], "linucb_ctr": 0.2,
                              "best_baseline": "greedy", "best_baseline_return": 1.2})
    runs = store.list_runs().set_index("name")
    assert runs.loc["rival", "learner"] == "linucb" and runs.loc["dqn", "learner"] == "dqn"
    assert (runs.loc["rival", "learner_return"], runs.loc["rival", "learner_ctr"]) == (1.3, 0.2)
    assert (runs.loc["dqn", "learner_return"], runs.loc["dqn", "learner_ctr"]) == (1.5, 0.3)
