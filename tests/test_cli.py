"""The `python -m dqn_sim` contract: outputs, JSON on stdout only, one-line errors with exit code 2."""

import getpass
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dqn_sim import policies
from dqn_sim.cli import main
from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.presets import get_preset

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--set", "audience.n_users=500", "--set", "train.n_envs=16", "--set", "train.eval_episodes=30",
         "--set", "train.log_every=500", "--set", "train.eval_every=2000", "--set", "train.learning_starts=200",
         "--set", "agent.hidden_sizes=[32]"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "dqn_sim", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_presets_lists_names_and_descriptions():
    r = run_cli("presets", "--json")
    assert r.returncode == 0
    names = [p["name"] for p in json.loads(r.stdout)]
    assert names == ["video", "news", "live", "shop", "ads", "recsim-ie"]


def test_evaluate_prints_one_json_object_with_intervals():
    r = run_cli("evaluate", "--preset", "video", "--policy", "oracle", "--episodes", "50", "--seed", "1", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"policy", "episodes", "return_mean", "return_ci", "ctr", "ctr_ci", "episode_len_mean",
                        "coverage", "diversity", "diversity_ci", "novelty", "novelty_ci", "quality", "quality_ci",
                        "clickbait_share", "clickbait_share_ci", "leave_rate", "leave_rate_ci", "survival"}
    assert out["return_ci"][0] <= out["return_mean"] <= out["return_ci"][1]
    assert out["ctr_ci"][0] <= out["ctr"] <= out["ctr_ci"][1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--policy", "random", "--set", "audience.n_users=-5"],
         "audience.n_users must be an integer in [1, 1000000], got -5"),
        (["evaluate", "--policy", "smart"], "--policy must be one of random, popularity"),
        (["evaluate", "--preset", "tv", "--policy", "random"], "preset must be one of video, news"),
        (["train", "--steps", "0", "--out", "x"], "--steps must be an integer >= 1, got 0"),
        (["train", "--steps", "10", "--out", "x", "--set", "agent.gamma=2"],
         "agent.gamma must be a number in [0, 0.9999]"),
        (["evaluate", "--policy", "dqn:/nonexistent"], "no checkpoint at"),
        (["export", "nope", "--out", "x.zip"], "no run with id 'nope'"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(args, message):
    r = run_cli(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_train_writes_the_run_folder_and_the_store_and_evaluate_loads_the_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(getpass, "getuser", lambda: "alice")
    out = tmp_path / "run"
    assert main(["train", "--preset", "video", "--steps", "3000", "--seed", "3", "--out", str(out), "--json",
                 *SMALL]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["state"] == "finished"
    for name in ("config.json", "metrics.csv", "summary.json", "model.pt", "evals.csv", "segments.csv"):
        assert (out / name).exists(), name
    metrics = pd.read_csv(out / "metrics.csv")
    for col in ("step", "episode", "episode_return", "ctr", "q_mean", "epsilon", "loss", "sps"):
        assert col in metrics.columns
    assert metrics.step.iloc[-1] >= 3000
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["seed"] == 3 and config["agent"]["hidden_sizes"] == [32]

    assert main(["evaluate", "--preset", "video", "--set", "audience.n_users=500", "--policy", f"dqn:{out}",
                 "--episodes", "30", "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["policy"] == f"dqn:{out}" and ev["episodes"] == 30

    # the run is in the store, listed, exported and imported back
    assert main(["runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert len(runs) == 1 and runs[0]["status"] == "finished" and runs[0]["id"] == result["run_id"]
    assert runs[0]["started_by"] == "alice (CLI)"  # the store says who trained it, as the studio's accounts do
    zip_path = tmp_path / "run.zip"
    assert main(["export", runs[0]["id"], "--out", str(zip_path), "--json"]) == 0
    capsys.readouterr()
    assert main(["import", str(zip_path), "--json"]) == 0
    new_id = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["runs", "--json"]) == 0
    assert {(r["id"], r["started_by"]) for r in json.loads(capsys.readouterr().out)} == {
        (runs[0]["id"], "alice (CLI)"), (new_id, "alice (CLI)")}

    # a one-page report for slides, readable offline
    report = tmp_path / "report.html"
    assert main(["report", result["run_id"], "--out", str(report), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["path"] == str(report)
    text = report.read_text()
    for part in ("Results on held-out users", "Myopic oracle", "evaluation sessions", "Configuration", "plotly"):
        assert part in text, part
    assert "<script src=\"http" not in text  # plotly.js is embedded, not fetched


def test_a_checkpoint_from_another_scenario_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--preset", "video", "--steps", "500", "--out", str(out), *SMALL]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--preset", "shop", "--policy", f"dqn:{out}", "--episodes", "5"]) == 2
    assert "was trained with" in capsys.readouterr().err


def test_corrupt_checkpoint_is_refused_with_a_reason(tmp_path, capsys):
    (tmp_path / "model.pt").write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--policy", f"dqn:{tmp_path}", "--episodes", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_bench_reports_simulator_rates_with_ratios_to_the_reference_and_training_throughput(capsys):
    assert main(["bench", "--json", "--seconds", "0.05", "--train-seconds", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    sim, train = out["simulator"], out["training"]
    for preset in ("video", "recsim-ie"):
        for batch in (1, 64, 4096):
            assert sim[f"{preset}_batch{batch}_steps_per_s"] > 0
    ref = sim["reference_recsim_ie_steps_per_s"]
    assert sim["recsim-ie_batch4096_vs_reference"] == pytest.approx(sim["recsim-ie_batch4096_steps_per_s"] / ref)
    assert train["steps"] > 0 and train["steps_per_s"] > 0 and train["updates_per_s"] >= 0
    assert train["best_baseline"] in ("random", "popularity", "greedy", "oracle")
    assert train["dqn_vs_best_baseline"] == pytest.approx(train["dqn_final_return"] / train["best_baseline_return"])


def interruptible() -> None:
    """In a child before it starts: Ctrl+C as at a terminal. A test run started in the background by a shell
    without job control inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_training_cleanly_and_keeps_the_run(tmp_path):
    """Ctrl+C reaches the whole process group (the CLI, its training process, the fork server): the CLI stops
    the job, which finishes its step and final evaluation; the training process itself ignores the signal."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DQN_SIM_HOME": str(tmp_path / "home")}
    cli = subprocess.Popen([sys.executable, "-m", "dqn_sim", "train", "--preset", "video", "--steps", "50000000",
                            "--out", str(tmp_path / "out"), "--json", *SMALL], cwd=ROOT, env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                           preexec_fn=interruptible)
    for line in iter(cli.stderr.readline, ""):  # the progress bar: training is under way
        if " steps/s" in line:
            break
    os.killpg(cli.pid, signal.SIGINT)
    out, _ = cli.communicate(timeout=120)
    assert cli.returncode == 0
    report = json.loads(out)
    assert report["state"] == "stopped" and 0 < report["steps"] < 50_000_000 and "dqn_return" in report
    assert (tmp_path / "out" / "model.pt").is_file()


def test_policies_json_lists_the_registry_and_the_readme_table_matches_it():
    out = run_cli("policies", "--json")
    assert out.returncode == 0
    listed = json.loads(out.stdout)
    assert [p["name"] for p in listed] == list(policies.POLICIES)
    assert all({"name", "label", "kind"} <= set(p) for p in listed)
    readme = (ROOT / "README.md").read_text()
    for p in policies.POLICIES.values():
        assert f"| `{p.name}` | {p.kind} |" in readme, f"README's policy table lacks {p.name}"


def test_delete_needs_yes_and_repairs_the_store_and_orphans_are_listed(tmp_path, capsys, isolated_home):
    from dqn_sim.store import RunStore

    with RunStore() as store:
        run_id = store.create_run(name="bad import", scenario=get_preset("video"), agent=AgentConfig(),
                                  train=TrainConfig(), seed=0, source="cli")
        store.set_status(run_id, "stopped")
    assert main(["delete", run_id]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["delete", run_id, "--yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"deleted": run_id}
    assert main(["delete", run_id, "--yes"]) == 2 and "no run with id" in capsys.readouterr().err
    (isolated_home / "checkpoints" / "deadbeef00").mkdir(parents=True)
    assert main(["runs", "--orphans", "--json"]) == 0
    assert [p.endswith("deadbeef00") for p in json.loads(capsys.readouterr().out)] == [True]
