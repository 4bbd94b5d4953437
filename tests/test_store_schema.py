"""The store's tables follow dqn_sim.vocab: a metric declared there reaches an old database without a migration;
run ids a caller chooses."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from dqn_sim import vocab
from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.store import RunIdTaken, RunStore
from tests import test_store
from tests.test_store import fill, new_run

home = test_store.home  # the fixture test_store's tests use

NOVELTY = vocab.Metric("novelty", "Novelty", "Share of recommendations the user has not seen before")


def columns(db: Path, table: str) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [row[1] for row in con.execute(f"PRAGMA table_info({table})")]
    finally:
        con.close()


def test_a_new_metric_reaches_an_old_database(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with RunStore() as s:
        old = new_run(s, "before")
        fill(s, old)
        db = s.db_path
    assert "novelty" not in columns(db, "metrics")
    monkeypatch.setattr(vocab.TRAINING, "columns", (*vocab.TRAINING.columns, NOVELTY))
    with RunStore() as s:
        assert columns(db, "metrics")[-1] == "novelty"
        run_id = new_run(s, "after")
        s.append_metrics(run_id, [{"step": 10, "novelty": 0.25}, {"step": 20, "novelty": None}])
        m = s.metrics(run_id)
        assert list(m.columns) == vocab.TRAINING.names
        assert m["novelty"].iloc[0] == 0.25 and pd.isna(m["novelty"].iloc[1])
        assert s.metrics(old)["novelty"].isna().all()  # rows from before the metric existed
        copy = s.import_zip(s.export_zip(run_id, tmp_path / "run.zip"))
        pd.testing.assert_frame_equal(s.metrics(copy), m)


def test_a_new_table_is_created(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    RunStore().close()
    extra = vocab.Table("extra", "extra.csv", (vocab.STEP, NOVELTY))
    monkeypatch.setitem(vocab.TABLES, "extra", extra)
    with RunStore() as s:
        run_id = new_run(s)
        s._append("extra", run_id, [{"step": 1, "novelty": 0.5}])
        copy = s.import_zip(s.export_zip(run_id, tmp_path / "run.zip"))
        assert s._rows("extra", copy, "step").to_dict("records") == [{"step": 1, "novelty": 0.5}]


def test_a_caller_may_choose_the_run_id(home: Path) -> None:
    with RunStore() as s:
        settings = dict(name="job", scenario=ScenarioConfig(), agent=AgentConfig(), train=TrainConfig(), seed=1)
        assert s.create_run(**settings, run_id="a1b2c3d4") == "a1b2c3d4"
        assert s.get_run("a1b2c3d4")["name"] == "job"
        with pytest.raises(RunIdTaken, match="run id 'a1b2c3d4' is already taken"):
            s.create_run(**settings, run_id="a1b2c3d4")
        for bad in ("abc", "x" * 33, "../etc", "abc-def", "", 12345):
            with pytest.raises(ValueError, match="run id must be 4 to 32 letters and digits"):
                s.create_run(**settings, run_id=bad)
        assert list(s.list_runs()["id"]) == ["a1b2c3d4"]


@pytest.mark.parametrize("algo", ["dqn", "linucb"])
def test_the_trainer_logs_exactly_the_declared_training_columns(algo: str) -> None:
    """The schema is the only list of training columns: a metric the trainer computes but vocab does not declare
    would be dropped by the store, and one declared but never computed would be an empty column. Neither may pass."""
    from dqn_sim.presets import get_preset
    from dqn_sim.train.trainer import Trainer

    scenario = get_preset("video").with_overrides({"catalogue.n_items": 30, "dynamics.max_steps": 20})
    trainer = Trainer(scenario, AgentConfig(hidden_sizes=[16]), TrainConfig(
        algo=algo, total_steps=640, n_envs=16, learning_starts=160, log_every=320, eval_every=640, eval_episodes=8))
    while not trainer.metrics:
        trainer.step()
    assert [list(row) for row in trainer.metrics] == [vocab.TRAINING.names] * len(trainer.metrics)
