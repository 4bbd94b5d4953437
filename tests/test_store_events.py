"""On a shared studio a rename or a deletion says who did it and when, and the record outlives the run; a run says
who started it, in the store and in its export."""

import json
import sqlite3
import zipfile

import pandas as pd
import pytest

from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.presets import get_preset
from dqn_sim.store import RunStore, schema


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


def _run(store: RunStore, **fields: object) -> str:
    return store.create_run(name="run", scenario=get_preset("video"), agent=AgentConfig(), train=TrainConfig(),
                            seed=0, **fields)


def test_who_started_a_run_is_stored_listed_and_travels_in_its_export(tmp_path):
    with RunStore(tmp_path / "home") as store:
        ann, nobody = _run(store, started_by="ann@example.com"), _run(store)
        assert store.get_run(ann)["started_by"] == "ann@example.com" and store.get_run(nobody)["started_by"] is None
        listed = store.list_runs().set_index("id")["started_by"]
        assert listed[ann] == "ann@example.com" and pd.isna(listed[nobody])
        copy = store.import_zip(store.export_zip(ann, tmp_path / "ann.zip"))
        assert store.get_run(copy)["started_by"] == "ann@example.com"
        with pytest.raises(ValueError, match="started_by must be a non-empty string"):
            _run(store, started_by=" ")


def test_an_export_from_before_runs_said_who_started_them_still_imports(tmp_path):
    with RunStore(tmp_path / "home") as store:
        exported = store.export_zip(_run(store, started_by="ann@example.com"), tmp_path / "new.zip")
        old = tmp_path / "old.zip"
        with zipfile.ZipFile(exported) as src, zipfile.ZipFile(old, "w") as dst:
            for item in src.infolist():
                data = src.read(item)
                if item.filename == "config.json":
                    config = json.loads(data)
                    del config["started_by"]
                    data = json.dumps(config).encode()
                dst.writestr(item, data)
        assert store.get_run(store.import_zip(old))["started_by"] is None


def test_a_database_from_before_started_by_opens_and_gains_it(tmp_path):
    """A version-4 store (the last without the column) opens: its runs say nobody, new runs say who."""
    home = tmp_path / "home"
    home.mkdir()
    con = sqlite3.connect(home / "runs.sqlite3", isolation_level=None)
    for migrate in schema.MIGRATIONS[:4]:
        migrate(con)
    con.execute("PRAGMA user_version = 4")
    con.execute("INSERT INTO runs (id, name, created, updated, status, preset, seed, scenario_json, agent_json,"
                " train_json) VALUES ('old1', 'old run', 1.7e9, 1.7e9, 'finished', 'video', 0, ?, ?, ?)",
                (get_preset("video").to_json(), AgentConfig().to_json(), TrainConfig().to_json()))
    con.close()
    with RunStore(home) as store:
        assert store.schema_version() == schema.SCHEMA_VERSION
        assert store.get_run("old1")["started_by"] is None
        assert store.get_run(_run(store, started_by="bob@example.com"))["started_by"] == "bob@example.com"
