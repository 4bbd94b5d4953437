"""`python -m dqn_sim compare A B`: probability of improvement and IQM difference, saying what they cover."""

import json
from pathlib import Path

import pytest

from dqn_sim.cli import main
from dqn_sim.compare import side
from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.presets import get_preset
from dqn_sim.store import RunStore
from dqn_sim.train.groups import group_summary

KEYS = {"a", "b", "probability_of_improvement", "probability_of_improvement_ci", "iqm_difference",
        "iqm_difference_ci", "sentence", "n_a", "n_b", "variation"}


def _run_summary(ret: float, sessions: list[float]) -> dict:
    return {"name": "a run", "dqn_return": ret, "kept": {"rule": "best", "step": 10, "validation_return": ret},
            "dqn_test_returns": sessions}


def _folder(path: Path, summary: dict) -> str:
    path.mkdir(parents=True)
    (path / "summary.json").write_text(json.dumps(summary))
    return str(path)


def _group(path: Path, returns: list[float]) -> str:
    members = [(seed, f"run{seed}", _run_summary(r, [r])) for seed, r in enumerate(returns)]
    return _folder(path, {"kind": "group", "name": path.name, **group_summary(members)})


def _compare(capsys, *args: str) -> dict:
    assert main(["compare", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_groups_are_compared_over_training_seeds(tmp_path, capsys):
    a = _group(tmp_path / "a", [10.0, 11.0, 12.0, 13.0, 14.0])
    b = _group(tmp_path / "b", [1.0, 2.0, 3.0, 4.0, 5.0])
    r = _compare(capsys, a, b)
    assert set(r) >= KEYS
    assert r["variation"] == "training seeds" and r["n_a"] == r["n_b"] == 5
    assert r["probability_of_improvement"] == 1.0 and r["probability_of_improvement_ci"] == [1.0, 1.0]
    assert r["iqm_difference"] == pytest.approx(9.0)
    lo, hi = r["iqm_difference_ci"]
    assert lo <= 9.0 <= hi and lo > 0
    assert r["sentence"] == "A beats B in 100% of seed pairs [100%, 100%]"
    assert r["a"] == {"ref": a, "kind": "group", "name": "a", "seeds": 5, "learner": "dqn"}
    assert _compare(capsys, b, a)["sentence"] == "B beats A in 100% of seed pairs [100%, 100%]"


def test_overlapping_groups_are_called_a_coin_flip(tmp_path, capsys):
    a = _group(tmp_path / "a", [1.0, 3.0, 5.0])
    b = _group(tmp_path / "b", [2.0, 4.0, 6.0])
    r = _compare(capsys, a, b)
    assert r["probability_of_improvement"] == pytest.approx(3 / 9)
    assert "coin flip" in r["sentence"] and "seed pairs" in r["sentence"]


def test_two_single_runs_are_compared_over_test_sessions_and_say_so(tmp_path, capsys):
    a = _folder(tmp_path / "a", _run_summary(6.0, [5.0, 6.0, 7.0, 6.0]))
    b = _folder(tmp_path / "b", _run_summary(2.0, [1.0, 2.0, 3.0]))
    r = _compare(capsys, a, b)
    assert r["variation"] == "evaluation sessions" and (r["n_a"], r["n_b"]) == (4, 3)
    assert r["probability_of_improvement"] == 1.0 and "session pairs" in r["sentence"]
    assert "evaluation sessions only" in r["note"] and "another training seed" in r["note"]


def test_a_group_against_one_run_resamples_seeds_and_says_one_side_has_one(tmp_path, capsys):
    a = _group(tmp_path / "a", [5.0, 6.0, 7.0])
    b = _folder(tmp_path / "b", _run_summary(6.5, [6.0, 7.0]))
    r = _compare(capsys, a, b)
    assert r["variation"] == "training seeds" and (r["n_a"], r["n_b"]) == (3, 1)
    assert "B has one seed" in r["note"]


def test_stored_runs_are_compared_by_id_and_the_text_names_the_variation(tmp_path, capsys):
    store = RunStore()
    ids = []
    for ret in (9.0, 4.0):
        run_id = store.create_run(name=f"run {ret}", scenario=get_preset("video"), agent=AgentConfig(),
                                  train=TrainConfig(), seed=0, source="cli")
        store.set_summary(run_id, _run_summary(ret, [ret - 1, ret, ret + 1]))
        ids.append(run_id)
    assert main(["compare", *ids]) == 0
    out = capsys.readouterr().out
    assert f"A: run {ids[0]} (run 9.0)" in out and "P(A > B) = 1.00 [1.00, 1.00] over evaluation sessions" in out
    assert "A beats B in 100% of session pairs" in out


@pytest.mark.parametrize("summary, message", [
    (None, "no stored run or group has this id"),
    ({"name": "old", "dqn_return": 3.0}, "has no test result"),
])
def test_bad_sides_exit_2_with_one_line(tmp_path, capsys, summary, message):
    a = _folder(tmp_path / "a", _run_summary(1.0, [1.0]))
    b = "nope" if summary is None else _folder(tmp_path / "b", summary)
    assert main(["compare", a, b, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err


def test_side_of_a_group_keeps_only_seeds_with_a_test_result():
    summary = group_summary([(0, "a", _run_summary(3.0, [3.0])), (1, "b", {"dqn_return": 8.0})])
    assert side("g", "group", "g", summary).seeds == [3.0]
