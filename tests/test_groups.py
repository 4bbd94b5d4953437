"""Run groups: one configuration on several seeds, members in parallel up to a cap, aggregated over seeds."""

import json
import zipfile

import pandas as pd
import pytest

from dqn_sim.cli import main
from dqn_sim.policies import evaluated_in_training
from dqn_sim.store import RunImportError, RunStore
from dqn_sim.store.groups import GroupStore
from dqn_sim.train.group_recording import StoreGroupRecorder, resume_group
from dqn_sim.train.groups import GroupJob, GroupRecorder, group_summary, members_at_once, seed_range
from tests.test_cli import SMALL
from tests.test_job import AGENT, SCENARIO, _train, _wait

AGGREGATE_KEYS = {"iqm", "iqm_ci", "mean", "mean_ci", "per_seed", "std", "min", "max", "n"}


def _states(group: GroupJob) -> list[str]:
    return [m.state for m in group.status().members]


def test_members_wait_for_a_slot_pause_resume_and_stop_reach_them_all_and_stopped_members_are_aggregated():
    group = GroupJob(SCENARIO, AGENT, _train(), seed_range(4, 3), max_parallel=2).start()
    _wait(lambda: all(m.step > 0 for m in group.status().members[:2]))
    status = group.status()
    assert status.state == "running" and status.seeds == (4, 5, 6) and status.active
    assert status.members[2].state == "pending" and status.members[2].step == 0  # waits for a slot
    assert status.progress == pytest.approx(sum(m.progress for m in status.members) / 3)  # the waiting one at 0

    group.pause()
    assert group.status().state == "paused"
    _wait(lambda: _states(group)[:2] == ["paused", "paused"])
    group.resume()
    _wait(lambda: _states(group)[:2] == ["running", "running"])

    group.stop()
    assert group.join(timeout=90)
    status = group.status()
    assert status.state == "stopped" and not status.active and status.eta_s is None
    assert _states(group) == ["stopped", "stopped", "pending"]  # the third never started
    summary = group.aggregate()
    assert summary["seeds"] == [4, 5, 6] and summary["variation"] == "training seeds"
    assert {"dqn", *evaluated_in_training()} == set(summary["aggregate"]) == set(summary["aggregate_ctr"])
    for stats in summary["aggregate"].values():
        assert set(stats) >= AGGREGATE_KEYS and stats["n"] == 2  # stopped members were judged on test users
    assert summary["per_seed"][2]["dqn_return"] is None and summary["per_seed"][2]["seed"] == 6
    dqn = summary["aggregate"]["dqn"]
    assert dqn["iqm_ci"][0] <= dqn["iqm"] <= dqn["iqm_ci"][1]


def test_a_finished_group_summarises_its_members_test_returns_and_tells_its_recorder():
    class Recorder(GroupRecorder):
        summary: dict | None = None

        def started(self, group: GroupJob) -> str:
            return "g1"

        def ended(self, group: GroupJob, summary: dict) -> None:
            Recorder.summary = summary

    group = GroupJob(SCENARIO, AGENT, _train(total=1500), [0, 1], recorder=Recorder()).start()
    assert group.join(timeout=90)
    assert group.status().state == "finished" and group.group_id == "g1"
    summary = Recorder.summary
    per_seed = [job.snapshot().summary for job in group.members]
    assert [row["dqn_return"] for row in summary["per_seed"]] == [s["dqn_return"] for s in per_seed]
    assert summary["aggregate"]["dqn"]["per_seed"] == [s["dqn_return"] for s in per_seed]
    assert summary["best_baseline"] in ("random", "popularity", "greedy", "oracle")
    assert summary == group.aggregate()  # seeded bootstrap: the same numbers on every call


def test_a_group_that_cannot_be_recorded_fails_and_trains_nothing():
    class Broken(GroupRecorder):
        def started(self, group: GroupJob) -> str:
            raise OSError("disk full")

    group = GroupJob(SCENARIO, AGENT, _train(), [0, 1], recorder=Broken()).start()
    assert group.join(timeout=30)
    status = group.status()
    assert status.state == "failed" and "disk full" in status.error
    assert _states(group) == ["pending", "pending"]


@pytest.mark.parametrize(("n", "n_cores", "at_once"), [(1, 2, 1), (2, 2, 2), (3, 2, 3), (4, 2, 2), (5, 2, 3),
                                                       (16, 2, 2), (17, 2, 3), (5, 8, 5), (5, 1, 1)])
def test_members_train_in_as_few_even_waves_as_whole_cores_allow(n, n_cores, at_once):
    """Five seeds on two cores: 3 then 2 (2.5 runs of wall time), not 2, 2, 1 (3 runs, a core idle in the last)."""
    assert members_at_once(n, n_cores) == at_once


def test_seeds_must_be_distinct():
    with pytest.raises(ValueError, match="distinct seeds"):
        GroupJob(SCENARIO, AGENT, _train(), [1, 1])


def test_group_summary_leaves_members_without_a_test_result_out_of_the_statistics():
    tested = {"kept": {"rule": "best"}, "dqn_return": 10.0, "oracle_return": 8.0, "dqn_ctr": 0.2}
    untested = {"dqn_return": 99.0}  # a latest validation only: not a result
    s = group_summary([(0, "a", tested), (1, "b", {**tested, "dqn_return": 12.0}), (2, "c", untested)])
    assert [row["dqn_return"] for row in s["per_seed"]] == [10.0, 12.0, None]
    assert s["aggregate"]["dqn"]["n"] == 2 and s["aggregate"]["dqn"]["mean"] == 11.0
    assert s["aggregate_ctr"]["dqn"]["mean"] == 0.2 and s["best_baseline"] == "oracle"


def test_train_with_seeds_writes_each_member_in_its_folder_and_the_group_summary(tmp_path, capsys):
    out = tmp_path / "group"
    assert main(["train", "--preset", "video", "--steps", "1000", "--seed", "7", "--seeds", "2", "--out", str(out),
                 "--json", *SMALL]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((out / "summary.json").read_text())
    assert printed == {"out": str(out), **written}
    assert written["kind"] == "group" and written["state"] == "finished" and written["seeds"] == [7, 8]
    assert {"seeds", "per_seed", "aggregate"} <= set(written)
    assert set(written["aggregate"]["dqn"]) >= {"iqm", "iqm_ci", "mean", "mean_ci"}
    assert sorted(p.name for p in out.iterdir()) == ["seed_7", "seed_8", "summary.json"]
    for seed, row in zip((7, 8), written["per_seed"], strict=True):
        member = out / f"seed_{seed}"
        for name in ("config.json", "metrics.csv", "evals.csv", "segments.csv", "summary.json", "model.pt"):
            assert (member / name).is_file(), (seed, name)
        assert json.loads((member / "config.json").read_text())["train"]["seed"] == seed
        run = json.loads((member / "summary.json").read_text())
        assert set(row) == {"seed", "run_id", "dqn_return", *(f"{p}_return" for p in evaluated_in_training())}
        assert row["seed"] == seed
        assert row["dqn_return"] == run["dqn_return"] and run["kept"]["rule"] == "best"
        assert set(pd.read_csv(member / "evals.csv").split) == {"validation", "test"}
    assert main(["runs", "--json"]) == 0  # every member is a stored run
    assert {r["id"] for r in json.loads(capsys.readouterr().out)} == {row["run_id"] for row in written["per_seed"]}


def test_bad_seeds_exit_2(tmp_path, capsys):
    assert main(["train", "--seeds", "0", "--out", str(tmp_path)]) == 2
    assert "--seeds must be an integer >= 1" in capsys.readouterr().err


def _json(capsys, *args: str):
    assert main([*args, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_a_group_is_stored_listed_exported_and_imported_as_one(tmp_path, capsys):
    summary = _json(capsys, "train", "--preset", "video", "--steps", "300", "--seed", "7", "--seeds", "2", "--out",
                    str(tmp_path / "out"), *SMALL)
    gid, member_runs = summary["group_id"], [row["run_id"] for row in summary["per_seed"]]
    [listed] = _json(capsys, "groups")
    assert listed["id"] == gid and listed["seeds"] == 2 and listed["status"] == "finished"
    assert listed["learner"] == "dqn" and listed["learner_iqm"] == pytest.approx(summary["aggregate"]["dqn"]["iqm"])
    groups = GroupStore(RunStore())
    stored = groups.get_group(gid)
    assert stored["seeds"] == [7, 8] and stored["summary"]["aggregate"] == summary["aggregate"]
    assert [(m["run_id"], m["status"]) for m in stored["members"]] == [(r, "finished") for r in member_runs]

    zip_path = tmp_path / "group.zip"
    assert _json(capsys, "export", gid, "--out", str(zip_path)) == {"group_id": gid, "path": str(zip_path)}
    with zipfile.ZipFile(zip_path) as zf:
        assert sorted(zf.namelist()) == ["group.json", "members/seed_7.zip", "members/seed_8.zip"]
    copy = _json(capsys, "import", str(zip_path))["group_id"]
    imported = groups.get_group(copy)
    new_runs = [m["run_id"] for m in imported["members"]]
    assert copy != gid and imported["source"] == "import" and imported["seeds"] == [7, 8]
    assert not set(new_runs) & set(member_runs) and [m["status"] for m in imported["members"]] == ["finished"] * 2
    assert [row["run_id"] for row in imported["summary"]["per_seed"]] == new_runs
    assert len(_json(capsys, "runs")) == 4
    same = _json(capsys, "compare", gid, copy)
    assert same["variation"] == "training seeds" and same["probability_of_improvement"] == 0.5


def test_a_group_resumes_from_its_stored_members_checkpoints():
    first = GroupJob(SCENARIO, AGENT, _train(total=300), [3, 4], recorder=StoreGroupRecorder(RunStore())).start()
    assert first.join(timeout=60) and first.status().state == "finished"
    groups = GroupStore(RunStore())
    resumed = resume_group(groups.runs, first.group_id, source="cli")
    assert [job.init_from for job in resumed.members] == [groups.runs.checkpoint_path(j.id) for j in first.members]
    assert resumed.start().join(timeout=60) and resumed.status().state == "finished"
    again = groups.get_group(resumed.group_id)
    assert again["name"] == f"{first.name} · resumed" and again["status"] == "finished" and again["seeds"] == [3, 4]
    assert again["source"] == "cli" and again["summary"]["aggregate"]["dqn"]["n"] == 2


def test_a_stopped_group_is_stored_stopped_and_its_waiting_member_has_no_run():
    group = GroupJob(SCENARIO, AGENT, _train(), [0, 1], max_parallel=1, recorder=StoreGroupRecorder(RunStore()))
    group.start()
    _wait(lambda: group.status().members[0].step > 0)
    group.pause()
    _wait(lambda: GroupStore(RunStore()).get_group(group.group_id)["status"] == "paused")  # saved by its writer
    group.stop()
    assert group.join(timeout=60)
    stored = GroupStore(RunStore()).get_group(group.group_id)
    assert stored["status"] == "stopped" and [m["status"] for m in stored["members"]] == ["stopped", None]
    assert stored["summary"]["aggregate"]["dqn"]["n"] == 1


@pytest.mark.parametrize("meta, message", [
    ({"seeds": [1, 1]}, "seeds must be 1 to 64 distinct integers"),
    ({"format": "other"}, "not a dqn_sim group export"),
    ({"train": {"total_steps": -1}}, "train.total_steps"),
])
def test_a_refused_group_zip_exits_2_and_adds_nothing(tmp_path, capsys, meta, message):
    good = {"format": "dqn_sim-group", "version": 1, "name": "g", "status": "finished", "seeds": [0, 1],
            "summary": None, "scenario": SCENARIO.to_dict(), "agent": AGENT.to_dict(), "train": _train().to_dict()}
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("group.json", json.dumps({**good, **meta}))
    assert main(["import", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert GroupStore(RunStore()).list_groups().empty and RunStore().list_runs().empty


def test_a_group_zip_with_a_stray_member_is_refused(tmp_path):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("group.json", "{}")
        zf.writestr("../evil.zip", "x")
    with pytest.raises(RunImportError, match="unexpected member"):
        GroupStore(RunStore()).import_zip(path)
