"""A sweep whose process is killed mid-trial resumes under its name: the killed trial is failed, its parameters run
again, and the study ends with the trials asked for."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dqn_sim.config import ConfigError
from dqn_sim.store import RunStore, default_home
from dqn_sim.sweep import study as studies
from tests.test_cli import interruptible
from tests.test_sweep import TINY_ARGS, pytestmark, run_cli  # noqa: F401  (pytestmark: the same warning filters)

REPO = Path(__file__).resolve().parent.parent


def _running_trial_with_a_value(name: str, url: str, number: int) -> bool:
    try:
        study, _ = studies.load(name, url)
    except ConfigError:  # not created yet
        return False
    trials = study.get_trials(deepcopy=False)
    return len(trials) > number and trials[number].state.name == "RUNNING" and bool(trials[number].intermediate_values)


def test_a_sweep_killed_mid_trial_resumes_and_runs_the_killed_trial_again(capsys):
    args = ["sweep", *TINY_ARGS, "--param", "agent.lr=1e-4:3e-3:log", "--trials", "2", "--steps", "2048",
            "--parallel", "1", "--name", "killed", "--json"]
    url = studies.default_storage(default_home())
    # its own session: the kill takes the sweep and its training processes at once, as a lost machine would
    sweep = subprocess.Popen([sys.executable, "-m", "dqn_sim", *args], cwd=REPO, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 50
        while not _running_trial_with_a_value("killed", url, 0):
            assert sweep.poll() is None and time.monotonic() < deadline, "the sweep never got into its trial"
            time.sleep(0.1)
    finally:
        os.killpg(sweep.pid, signal.SIGKILL)
        sweep.wait()

    rc, out, err = run_cli(capsys, *args)
    assert rc == 0, err
    trials = json.loads(out)["trials"]
    study, _ = studies.load("killed", url)
    killed, *rest = trials
    assert killed["state"] == "fail" and [t["state"] for t in rest] == ["complete", "complete"], [
        t.user_attrs.get("error") for t in study.get_trials()]
    (again,) = [t for t in rest if t["params"] == killed["params"]]
    assert again["run_ids"] != killed["run_ids"]
    assert study.get_trials()[again["number"]].system_attrs["failed_trial"] == killed["number"]
    assert RunStore().get_run(killed["run_ids"][0])["status"] == "interrupted"


def test_ctrl_c_queues_the_running_trial_again_and_exits_130():
    args = ["sweep", *TINY_ARGS, "--param", "agent.lr=1e-4:3e-3:log", "--trials", "2", "--steps", "100000",
            "--parallel", "1", "--name", "stopped"]
    url = studies.default_storage(default_home())
    sweep = subprocess.Popen([sys.executable, "-m", "dqn_sim", *args], cwd=REPO, start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    try:
        deadline = time.monotonic() + 45
        while not _running_trial_with_a_value("stopped", url, 0):
            assert sweep.poll() is None and time.monotonic() < deadline, "the sweep never started its trial"
            time.sleep(0.1)
        sweep.send_signal(signal.SIGINT)
        _, err = sweep.communicate(timeout=45)
    finally:
        if sweep.poll() is None:
            os.killpg(sweep.pid, signal.SIGKILL)
            sweep.wait()
    assert sweep.returncode == 130 and "interrupted" in err.splitlines()[-1]
    study, _ = studies.load("stopped", url)
    first, queued = study.get_trials()
    assert first.state.name == "FAIL" and first.user_attrs["error"] == "interrupted: queued again"
    assert queued.state.name == "WAITING" and queued.params == first.params
    assert RunStore().get_run(first.user_attrs["run_ids"][0])["status"] == "stopped"


def test_a_sweep_over_a_list_of_choices_resumes_under_the_same_command(capsys):
    """The study keeps its definition as JSON, where a choice tuple comes back a list: the same command was refused
    as 'a sweep of that name exists with other settings (params)'."""
    args = ["sweep", *TINY_ARGS, "--param", "agent.n_step=1,3", "--steps", "1024", "--parallel", "1",
            "--name", "s-choices", "--json"]
    rc, _, err = run_cli(capsys, *args, "--trials", "1")
    assert rc == 0, err
    rc, out, err = run_cli(capsys, *args, "--trials", "2")
    assert rc == 0, err
    assert len(json.loads(out)["trials"]) == 2
    assert "2/2 trials" in err.splitlines()[-1], err[-300:]  # the bar's last state is drawn, not dropped
