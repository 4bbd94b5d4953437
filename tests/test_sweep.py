"""Sweeps end to end on tiny trials: each sampler, pruning, the JSON contract, tagged runs in the store, `sweeps`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from optuna.trial import TrialState

from dqn_sim import cli, memory
from dqn_sim.store import RunStore, default_home
from dqn_sim.store.groups import GroupStore
from dqn_sim.sweep import study as studies
from dqn_sim.sweep import trial
from dqn_sim.sweep.driver import run_sweep
from dqn_sim.sweep.executors import LocalExecutor
from dqn_sim.sweep.space import grid_space, parse_params
from dqn_sim.sweep.spec import SweepSpec

# a small world, a small network and short sessions: a trial of 1024 steps trains in a few seconds
TINY = ("audience.n_users=500", "agent.hidden_sizes=[32]", "agent.batch_size=32", "train.n_envs=16",
        "train.learning_starts=64", "train.log_every=256", "train.eval_every=512", "train.eval_episodes=10",
        "dynamics.max_steps=20")
TINY_ARGS = [arg for pair in (("--set", s) for s in TINY) for arg in pair]
# pytest resets warning filters per test; the sweep's own (dqn_sim.sweep.study) quiet these outside tests
pytestmark = [pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
              pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """``python -m dqn_sim ARGS`` in this process."""
    rc = cli.main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_a_grid_sweep_covers_its_whole_grid_and_ends_cleanly(capsys):
    """The last grid point used to fail the sweep: Optuna's grid sampler stops ``optimize``, which the driver's
    ask-and-tell loop is not. More trials than points: the grid's size is the count."""
    rc, out, err = run_cli(capsys, "sweep", *TINY_ARGS, "--param", "agent.n_step=1,3", "--trials", "5", "--steps",
                           "1024", "--parallel", "1", "--sampler", "grid", "--name", "s-whole-grid", "--json")
    assert rc == 0, err
    result = json.loads(out)
    assert sorted(t["params"]["agent.n_step"] for t in result["trials"]) == [1, 3]
    assert [t["state"] for t in result["trials"]] == ["complete"] * 2


@pytest.mark.parametrize("sampler, seeds", [("tpe", 1), ("random", 2), ("grid", 1)])
def test_a_three_trial_sweep_with_each_sampler(capsys, sampler, seeds):
    """Each trial a run group of ``seeds`` stored runs tagged with the sweep and the trial."""
    name = f"s-{sampler}"
    params = ["agent.lr=1e-4:3e-3:log", "agent.n_step=1,3"]
    rc, out, err = run_cli(capsys, "sweep", *TINY_ARGS, *(a for p in params for a in ("--param", p)),
                           "--trials", "3", "--steps", "1024", "--seeds", str(seeds), "--parallel", str(3 - seeds),
                           "--sampler", sampler, "--name", name, "--json")
    assert rc == 0, err
    result = json.loads(out)
    assert set(result) == {"name", "trials", "best", "executor"} and result["executor"] == "local"
    assert [t["state"] for t in result["trials"]] == ["complete"] * 3
    assert all(set(t) == {"number", "params", "value", "state", "run_ids"} for t in result["trials"])
    assert result["best"]["value"] == max(t["value"] for t in result["trials"])
    if sampler == "grid":
        grid = grid_space(parse_params(params))
        points = {tuple(t["params"].values()) for t in result["trials"]}
        assert len(points) == 3 and all(lr in grid["agent.lr"] and n in grid["agent.n_step"] for lr, n in points)
    store = RunStore()
    study, _ = studies.load(name, studies.default_storage(default_home()))
    for t, kept in zip(result["trials"], study.get_trials(), strict=True):
        assert GroupStore(store).get_group(kept.user_attrs["group_id"])["seeds"] == list(range(seeds))
        assert t["value"] == pytest.approx(np.mean(kept.user_attrs["seed_values"]))  # the IQM of 1 or 2 values
        assert len(t["run_ids"]) == seeds
        for seed, run_id in enumerate(t["run_ids"]):
            run = store.get_run(run_id)
            assert run["status"] == "finished" and run["notes"] == f"sweep={name} trial={t['number']}"
            assert run["name"] == f"{name} · trial {t['number']} · seed {seed}" and run["seed"] == seed
            assert run["agent"].n_step == t["params"]["agent.n_step"]
    assert (default_home() / studies.SWEEPS_DB).exists()

    rc, out, _ = run_cli(capsys, "sweeps", "--json")
    (listed,) = json.loads(out)
    assert rc == 0 and listed["name"] == name and listed["complete"] == 3 and listed["best"] == result["best"]


# before trials held at their evaluations, the pruner's stop raced the training (at 6,144 a tiny run ended first)
PRUNING_STEPS = 6144


@pytest.mark.parametrize("pruner", ["halving", "median"])
def test_a_trial_far_below_the_others_is_pruned_on_its_validation_curve(monkeypatch, pruner):
    """Users who hardly ever click (no_click_score 8) earn far less from the first evaluation on: pruned at the
    first one the pruner judges: the first evaluation past a third of the budget, for both pruners. Its training
    waited there for the verdict, so it trained not a step past it (it used to train on until the stop landed,
    ~0.5-1 s later: on video 5k steps past a 15k-step verdict)."""
    monkeypatch.setattr(studies, "MEDIAN_STARTUP_TRIALS", 1)  # a two-trial study: the median of one finished trial
    home = default_home()
    url = studies.default_storage(home)
    spec = SweepSpec(name="pruning", preset="video", config=None, overrides=TINY,
                             params=parse_params(["dynamics.no_click_score=-2,8"]), seeds=1, first_seed=0,
                             steps=PRUNING_STEPS, sampler="random", pruner=pruner)
    study = studies.create(spec, url)
    study.enqueue_trial({"dynamics.no_click_score": -2})
    study.enqueue_trial({"dynamics.no_click_score": 8})
    run_sweep(study, url, str(home), LocalExecutor(1), 2)
    good, bad = study.get_trials()
    assert good.state == TrialState.COMPLETE and bad.state == TrialState.PRUNED
    step = PRUNING_STEPS // 3  # a multiple of the evaluation period (512)
    assert bad.user_attrs["pruned_at"] == step and bad.value == bad.intermediate_values[step] < good.value
    run = RunStore().get_run(bad.user_attrs["run_ids"][0])
    assert run["status"] == "stopped" and run["summary"]["steps"] == step


def test_a_sweep_of_the_same_name_with_other_settings_is_refused(capsys):
    spec = SweepSpec(name="taken", preset="video", config=None, overrides=TINY,
                             params=parse_params(["agent.lr=1e-4:1e-3"]), seeds=1, first_seed=0, steps=1024)
    studies.create(spec, studies.default_storage(default_home()))
    rc, out, err = run_cli(capsys, "sweep", *TINY_ARGS, "--param", "agent.gamma=0.8:0.99",
                           "--trials", "2", "--steps", "1024", "--name", "taken", "--json")
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "--name taken: a sweep of that name exists with other settings (params)" in err


@pytest.mark.parametrize("args, says", [
    (["--param", "agent.gamma=0.99:0.8"], "--param agent.gamma=0.99:0.8: the range's low end"),
    (["--param", "agent.nope=1:2"], "unknown knob 'agent.nope'"),
    (["--param", "agent.lr", "--trials", "0"], "--trials must be an integer >= 1"),
    (["--param", "agent.lr", "--set", "train.eval_every=5000"], "train.eval_every must be at most --steps (1024)"),
    (["--param", "agent.lr", "--sampler", "bayes"], "argument --sampler: invalid choice"),
    (["--param", "agent.batch_size=32," + "9" * 5000], "--param agent.batch_size=32,999"),  # Python reads no such int
])
def test_bad_sweep_input_exits_2_with_one_line(capsys, args, says):
    argv = ["sweep", "--trials", "2", "--steps", "1024", *args]
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 2 and out == "" and err.count("\n") == 1 and says in err


@pytest.mark.parametrize("big", [["--set", "audience.n_users=1000000", "--param", "agent.lr"],
                                 ["--param", "audience.n_users=1000:1000000"]], ids=["set", "searched"])
def test_a_sweep_too_big_for_memory_is_refused_before_any_trial(capsys, monkeypatch, big):
    """``sweep`` started its trials without the estimate ``train`` applies: 2 trials at once of 2 seeds each, with a
    million users (set for every trial, or the top of a searched range), hold 4 worlds of 214 MB; the same sweep
    of TINY's 500 users needs 146 MB."""
    monkeypatch.setenv(memory.LIMIT_ENV, "300")
    monkeypatch.setattr(trial, "run_trial", lambda *args: pytest.fail("a trial started"))
    rc, out, err = run_cli(capsys, "sweep", *TINY_ARGS, *big, "--trials", "2", "--steps", "1024", "--seeds", "2",
                           "--parallel", "2")
    assert rc == 2 and out == "" and err.count("\n") == 1, err
    assert "4 training runs at once would need about 359 MB of memory, above the limit of 300 MB" in err
    assert "the biggest part is the world (catalogue.n_items, audience.n_users)" in err
    assert not (default_home() / studies.SWEEPS_DB).exists()


def test_sweeps_on_a_fresh_home_lists_none(capsys):
    rc, out, _ = run_cli(capsys, "sweeps", "--json")
    assert rc == 0 and json.loads(out) == [] and not (default_home() / studies.SWEEPS_DB).exists()
