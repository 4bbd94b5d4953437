"""Wall time of a 5-seed group against one run of the same configuration, measured in the same invocation.

    .venv/bin/python benchmarks/bench_groups.py [--steps 20000 | --full] [--seeds 5] [--parallel N] [--json]

The single run is a ``TrainingJob`` as ``python -m dqn_sim train`` runs one (its own process, one torch thread);
the group a ``GroupJob`` as ``train --seeds 5`` runs one (members in processes of their own, ``--parallel`` at a
time, by default in as few even waves as the cores allow: 3 then 2 on 2 cores). Both are timed from start until
their end is recorded, test evaluation included, on the default preset with its agent settings, after a one-step
job has started the fork server they share. ``--full`` trains the default budget (250,000 steps) instead of the
short one. Issue 11's target: the group within 3x the single run's wall time on 2 cores. Measure on an otherwise
idle machine: other work on the same cores takes a different share from one process than from five.

Measured 2026-12-02 on the 2-core machine (load ~2.5 from other sessions): ``--full`` one run 24.2 s, the 5-seed group
60.1 s, **2.49x** (3 then 2 at once; with 2, 2, 1 it read 3.15x under heavier load); the short run 3.8 s vs 9.9 s,
2.60x.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dqn_sim.assembly import assemble  # noqa: E402
from dqn_sim.presets import DEFAULT_PRESET  # noqa: E402
from dqn_sim.train.groups import GroupJob, cores, seed_range  # noqa: E402
from dqn_sim.train.job import TrainingJob  # noqa: E402

TARGET = 3.0
SHORT_STEPS = 20_000


def timed(job: TrainingJob | GroupJob) -> float:
    t0 = time.perf_counter()
    job.start().join()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=SHORT_STEPS, help="user-steps per run")
    p.add_argument("--full", action="store_true", help="the default budget (train.total_steps) instead of --steps")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--parallel", type=int, help="members training at once (default: one per core)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    run = assemble(DEFAULT_PRESET, None, [])
    train = run.train if args.full else run.train.with_overrides({"total_steps": args.steps})
    timed(TrainingJob(run.scenario, run.agent, train.with_overrides({"total_steps": 1})))  # the fork server starts
    single = timed(TrainingJob(run.scenario, run.agent, train))
    group = GroupJob(run.scenario, run.agent, train, seed_range(train.seed, args.seeds), max_parallel=args.parallel)
    grouped = timed(group)
    states = {m.state for m in group.status().members}
    result = {
        "preset": DEFAULT_PRESET, "steps": train.total_steps, "seeds": args.seeds, "cores": cores(),
        "parallel": group.max_parallel, "single_s": single, "group_s": grouped, "ratio": grouped / single,
        "target": TARGET, "members": sorted(states),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{DEFAULT_PRESET}, {train.total_steps:,} steps per run, {cores()} cores, {group.max_parallel} at once")
    print(f"one run       {single:8.1f} s")
    print(f"{args.seeds}-seed group  {grouped:8.1f} s")
    verdict = "within" if grouped / single <= TARGET else "above"
    print(f"ratio         {grouped / single:8.2f}x ({verdict} the {TARGET:g}x target)")


if __name__ == "__main__":
    main()
