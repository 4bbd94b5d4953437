"""Sweep speed, both figures from one invocation: parallel trials against sequential ones, and pruning against none.

    .venv/bin/python benchmarks/bench_sweep.py [--quick] [--trials 12] [--json]

1. Wall time of a 12-trial sweep with 2 trials at once (``--parallel 2``) against one at a time, the same random
   sampler and no pruning, so both do the same work. Issue 12's target: <= 0.6x on 2 cores.
2. Steps on video, pruned against unpruned: the same 12-trial random sweep (the same parameters in the same order:
   the sampler is seeded per trial, and training is deterministic per seed) with a pruner (median, then successive
   halving) and without (the sequential sweep of 1.). The figure is the user-steps all trials of the pruned sweep
   trained over those of the unpruned one, with whether the pruned sweep's best lies within the unpruned best
   trial's 95% interval (its last validation evaluation's, over held-out sessions): the same best for fewer steps.
   Issue 12's target: <= 0.6x. Pruning saves steps more than wall time: every trial also evaluates the baselines
   at its start and all policies on test users at its end, pruned or not.

All sweeps run on the engine as ``python -m dqn_sim sweep`` runs them (``LocalExecutor``: a thread per trial,
training in processes of their own), in a temporary ``DQN_SIM_HOME``, after a one-step job has started the fork
server. ``--quick`` shrinks the budget for a smoke run. Measure on an otherwise idle machine: other work on the same
cores takes a different share from one training process than from two.

Measured 2026-12-02 at 12:30 on the 2-core machine, idle (load 0.2-1.5), worlds as drawn since the catalogue/audience
split: 2 trials at once **0.53x** the sequential wall time (54.4 s -> 29.1 s). Pruning, with both pruners judging no
trial before a third of its budget and each trial's seeds holding at every evaluation until the pruner has judged it:
successive halving (eta 4) **0.58x** the steps (8 of 12 pruned, each at 15,040 steps), median 0.75x (5 pruned),
each keeping the unpruned best (58.35, trial 3, gamma 0.90, within its [55.06, 61.65]); halving reached a trial
within that interval after 135,040 steps against 160,000 unpruned. Target <= 0.6: both met with successive
halving; the median pruner, more careful, is not.

Before the hold (10:55, same worlds): halving 0.68x, median 0.81x, because a pruned trial trained on for ~5k steps
(19.3k-21.8k instead of 15,040) while its stop travelled from the pruner's verdict to the training process. Ten of
the 12 random trials end level near the myopic oracle (42-44) and the best is a late bloomer (22.9 at 10k steps,
54.1 at 15k): with halving's first rung at the first evaluation it was pruned at 5k and the sweep spent 0.41x the
steps on a best of 44.2, outside that interval.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dqn_sim.assembly import assemble  # noqa: E402
from dqn_sim.splits import validation_rows  # noqa: E402
from dqn_sim.store import RunStore  # noqa: E402
from dqn_sim.sweep import study as studies  # noqa: E402
from dqn_sim.sweep.driver import run_sweep  # noqa: E402
from dqn_sim.sweep.executors import LocalExecutor  # noqa: E402
from dqn_sim.sweep.space import parse_params  # noqa: E402
from dqn_sim.sweep.spec import SweepSpec  # noqa: E402
from dqn_sim.train.groups import cores  # noqa: E402
from dqn_sim.train.job import TrainingJob  # noqa: E402

TARGET = 0.6
PRESET = "video"
PARAMS = ("agent.lr=1e-5:3e-2:log", "agent.gamma=0:0.99")
PRUNERS = ("median", "halving")


@dataclass(frozen=True)
class Budget:
    """A trial's budget: steps, and evaluations along them (the pruner's points)."""

    steps: int
    eval_every: int
    eval_episodes: int

    def overrides(self) -> tuple[str, ...]:
        return (f"train.eval_every={self.eval_every}", f"train.eval_episodes={self.eval_episodes}")


FULL = Budget(steps=40_000, eval_every=5_000, eval_episodes=100)
QUICK = Budget(steps=4_000, eval_every=1_000, eval_episodes=20)


def sweep(name: str, budget: Budget, trials: int, parallel: int, pruner: str) -> tuple[float, list]:
    """Run a sweep to its end; its wall time and its trials."""
    spec = SweepSpec(name=name, preset=PRESET, config=None, overrides=budget.overrides(), params=parse_params(list(
        PARAMS)), seeds=1, first_seed=0, steps=budget.steps, sampler="random", pruner=pruner)
    url = studies.default_storage(Path(os.environ["DQN_SIM_HOME"]))
    study = studies.create(spec, url)
    executor = LocalExecutor(parallel)
    t0 = time.perf_counter()
    try:
        run_sweep(study, url, os.environ["DQN_SIM_HOME"], executor, trials)
    finally:
        executor.close()
    return time.perf_counter() - t0, study.get_trials()


def trained_steps(trial, store: RunStore) -> int:
    return int(store.get_run(trial.user_attrs["run_ids"][0])["summary"]["steps"])


def interval(trial, store: RunStore) -> tuple[float, float]:
    """The 95% interval of a one-seed trial's value: its last validation evaluation's, over held-out sessions."""
    evals = validation_rows(store.evals(trial.user_attrs["run_ids"][0]))
    last = evals[evals.policy == "dqn"].iloc[-1]
    return float(last.return_lo), float(last.return_hi)


def steps_to_reach(trials: list, floor: float, store: RunStore) -> int | None:
    """User-steps a sweep had trained when a trial first completed at ``floor`` or above (None: never)."""
    spent = 0
    for t in trials:
        spent += trained_steps(t, store)
        if t.state.name == "COMPLETE" and t.value >= floor:
            return spent
    return None


def pruning_figures(unpruned: list, pruned: list, store: RunStore) -> dict:
    best = max((t for t in unpruned if t.state.name == "COMPLETE"), key=lambda t: t.value)
    lo, hi = interval(best, store)
    pruned_best = max(t.value for t in pruned if t.state.name == "COMPLETE")
    unpruned_steps = sum(trained_steps(t, store) for t in unpruned)
    pruned_steps = sum(trained_steps(t, store) for t in pruned)
    return {
        "unpruned_best": best.value, "unpruned_best_ci": [lo, hi], "unpruned_best_trial": best.number,
        "pruned_best": pruned_best, "same_best": pruned_best >= lo,
        "pruned_trials": [t.number for t in pruned if t.state.name == "PRUNED"],
        "unpruned_steps": unpruned_steps, "pruned_steps": pruned_steps, "ratio": pruned_steps / unpruned_steps,
        "unpruned_steps_to_best": steps_to_reach(unpruned, lo, store),
        "pruned_steps_to_best": steps_to_reach(pruned, lo, store),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=f"{QUICK.steps:,} steps per trial instead of {FULL.steps:,}")
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    budget = QUICK if args.quick else FULL
    os.environ["DQN_SIM_HOME"] = tempfile.mkdtemp(prefix="bench_sweep_")

    run = assemble(PRESET, None, [])
    TrainingJob(run.scenario, run.agent, run.train.with_overrides({"total_steps": 1})).start().join()  # fork server
    sequential_s, unpruned = sweep("sequential", budget, args.trials, 1, "none")  # also the unpruned sweep
    parallel_s, _ = sweep("parallel", budget, args.trials, 2, "none")
    pruned = {pruner: sweep(pruner, budget, args.trials, 1, pruner)[1] for pruner in PRUNERS}
    store = RunStore()
    result = {
        "preset": PRESET, "trials": args.trials, "steps_per_trial": budget.steps, "eval_every": budget.eval_every,
        "cores": cores(), "params": list(PARAMS), "home": os.environ["DQN_SIM_HOME"],
        "parallel": {"sequential_s": sequential_s, "parallel_2_s": parallel_s, "ratio": parallel_s / sequential_s},
        "pruning": {pruner: pruning_figures(unpruned, trials, store) for pruner, trials in pruned.items()},
        "target": TARGET,
    }
    if args.json:
        print(json.dumps(result))
        return
    par = result["parallel"]
    print(f"{PRESET}, {args.trials} trials of {budget.steps:,} steps (evaluated every {budget.eval_every:,}), "
          f"{cores()} cores; searching {', '.join(PARAMS)}")
    print(f"sequential sweep    {par['sequential_s']:8.1f} s")
    print(f"2 trials at once    {par['parallel_2_s']:8.1f} s   ratio {par['ratio']:.2f} (target <= {TARGET})")
    first = next(iter(result["pruning"].values()))
    lo, hi = first["unpruned_best_ci"]
    print(f"unpruned: best {first['unpruned_best']:.2f} [{lo:.2f}, {hi:.2f}] (trial {first['unpruned_best_trial']}) "
          f"in {first['unpruned_steps']:,} steps")
    for pruner, pru in result["pruning"].items():
        same = "within" if pru["same_best"] else "below"
        print(f"{pruner} pruner: trials {pru['pruned_trials']} pruned, best {pru['pruned_best']:.2f} ({same} that "
              f"interval) in {pru['pruned_steps']:,} steps: ratio {pru['ratio']:.2f} (target <= {TARGET}); a trial "
              f"within the interval after {pru['pruned_steps_to_best']} steps ({pru['unpruned_steps_to_best']} "
              "unpruned)")


if __name__ == "__main__":
    main()
