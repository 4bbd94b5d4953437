"""``python -m dqn_sim sweep`` (search hyperparameters) and ``python -m dqn_sim sweeps`` (list kept sweeps).

``add_parser`` registers both on the main parser's sub-commands. Optuna and the trainer are imported by the
commands themselves, so other commands start as fast as before. Bad input raises ``ConfigError`` (exit code 2,
one line naming it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from dqn_sim.config import ConfigError
from dqn_sim.presets import DEFAULT_PRESET
from dqn_sim.progress import ProgressBar
from dqn_sim.sweep.choices import OBJECTIVES, PRUNERS, SAMPLERS

if TYPE_CHECKING:
    from dqn_sim.sweep.executors import Executor
    from dqn_sim.sweep.spec import SweepSpec


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``sweep`` and ``sweeps``."""
    s = sub.add_parser("sweep", help="search hyperparameters with Optuna, here or on a Ray cluster")
    s.add_argument("--preset", default=DEFAULT_PRESET, help="named scenario (see `presets`)")
    s.add_argument("--config", help="JSON file: a scenario, or {scenario, agent, train}")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", help="fixed override of every trial (repeatable)")
    s.add_argument("--param", action="append", required=True, metavar="KNOB[=RANGE]",
                   help="a searched knob: agent.lr=1e-4:3e-3:log, agent.gamma=0.8:0.99, agent.n_step=1,3,5, or a "
                        "bare knob for its whole allowed range (repeatable)")
    s.add_argument("--trials", type=int, required=True, help="trials the sweep should hold (a resume adds the rest)")
    s.add_argument("--seeds", type=int, default=1, help="training seeds per trial; the objective is their IQM")
    s.add_argument("--seed", type=int, help="first training seed of every trial and the sampler's seed "
                                            "(default: train.seed)")
    s.add_argument("--steps", type=int, required=True, help="environment user-steps per seed (each trial's budget)")
    s.add_argument("--sampler", choices=SAMPLERS, default="tpe")
    s.add_argument("--pruner", choices=PRUNERS, default="median", help="prunes on the validation curve")
    s.add_argument("--objective", choices=tuple(OBJECTIVES), default="return",
                   help="validation return (or CTR) of the DQN, IQM over seeds")
    s.add_argument("--parallel", type=int, help="trials at once (default: cores / seeds here, CPUs / seeds on Ray)")
    s.add_argument("--ray-address", help="run trials as tasks of this Ray cluster (default: $RAY_ADDRESS if set)")
    s.add_argument("--storage", help="Optuna storage URL (default: sweeps.sqlite3 in DQN_SIM_HOME); a database "
                                     "every machine reaches for a multi-machine cluster")
    s.add_argument("--name", help="sweep (study) name; the same name resumes it (default: PRESET-DATE-TIME)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("sweeps", help="list the sweeps kept in the study storage")
    s.add_argument("--storage", help="Optuna storage URL (default: sweeps.sqlite3 in DQN_SIM_HOME)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_sweeps)


def _at_least_one(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name} must be an integer >= 1, got {value}")


def cmd_sweep(args: argparse.Namespace) -> int:
    from dqn_sim.assembly import assemble, read_config_file
    from dqn_sim.sweep.executors import make_executor
    from dqn_sim.sweep.space import parse_params
    from dqn_sim.sweep.spec import SweepSpec

    _at_least_one(args, "trials", "seeds", "steps", "parallel")
    params = parse_params(args.param)
    config = read_config_file(args.config) if args.config else None
    base = assemble(args.preset, config, args.set or [])
    spec = SweepSpec(
        name=args.name or f"{args.preset}-{time.strftime('%Y%m%d-%H%M%S')}", preset=args.preset, config=config,
        overrides=tuple(args.set or ()), params=params, seeds=args.seeds,
        first_seed=base.train.seed if args.seed is None else args.seed, steps=args.steps, objective=args.objective,
        sampler=args.sampler, pruner=args.pruner)
    executor = make_executor(args.ray_address, args.parallel, args.seeds)
    try:
        return _sweep(args, spec, executor)
    finally:
        executor.close()


def _sweep(args: argparse.Namespace, spec: SweepSpec, executor: Executor) -> int:
    """Run the sweep on ``executor`` once its trials at once are known to fit in memory (nothing is stored
    before: a refused sweep leaves no study)."""
    from dqn_sim.store import default_home
    from dqn_sim.sweep import study as studies
    from dqn_sim.sweep.driver import Progress, run_sweep
    from dqn_sim.sweep.spec import check_memory

    check_memory(spec, executor.here)
    home = default_home()
    url = args.storage or studies.default_storage(home)
    study, n_trials = studies.open_sweep(spec, args.trials, url)
    print(f"sweep {spec.name}: {n_trials} trials × {spec.seeds} seed(s) × {spec.steps} steps on {executor.name} "
          f"({executor.slots} at once); study in {url}", file=sys.stderr)
    bar = ProgressBar(f"sweep {spec.name}")

    def show(p: Progress) -> None:
        best = "—" if p.best is None else f"{p.best:.4g}"
        bar.update(p.fraction, f"{p.done}/{p.total} trials · {p.running} running · best {best}",
                   final=p.done >= p.total and not p.running)

    try:
        run_sweep(study, url, str(home), executor, n_trials, show)
    except KeyboardInterrupt:
        bar.close()
        print(f"error: sweep {spec.name} interrupted; its running trials are queued again: run the same command "
              "to resume", file=sys.stderr)
        return 130
    bar.close()
    result = {"name": spec.name, "trials": studies.trial_rows(study), "best": studies.best(study),
              "executor": executor.name}
    print(json.dumps(result) if args.json else _describe(result))
    return 0


def _describe(result: dict) -> str:
    lines = [f"sweep {result['name']} ({result['executor']}):"]
    for t in result["trials"]:
        value = "—" if t["value"] is None else f"{t['value']:.4g}"
        params = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t["params"].items())
        lines.append(f"  #{t['number']:<3} {t['state']:<8} {value:>9}  {params}  runs {','.join(t['run_ids'])}")
    best = result["best"]
    lines.append("no trial completed" if best is None else f"best {best['value']:.4g} with {best['params']}")
    return "\n".join(lines)


def cmd_sweeps(args: argparse.Namespace) -> int:
    from dqn_sim.store import default_home
    from dqn_sim.sweep import study as studies

    home = default_home()
    if args.storage:
        sweeps = studies.list_sweeps(args.storage)
    else:  # listing never creates the default file
        sweeps = studies.list_sweeps(studies.default_storage(home)) if (home / studies.SWEEPS_DB).exists() else []
    if args.json:
        print(json.dumps(sweeps))
    elif not sweeps:
        print("no sweeps yet: start one with `python -m dqn_sim sweep`")
    else:
        print("\n".join(_sweep_line(s) for s in sweeps))
    return 0


def _sweep_line(s: dict) -> str:
    best = "—" if s["best"] is None else f"{s['best']['value']:.4g} with {s['best']['params']}"
    return (f"{s['name']}  {s['preset']}  {s['trials']} trials ({s['complete']} complete, {s['pruned']} pruned, "
            f"{s['fail']} failed, {s['running']} running) · {' '.join(s['params'])} · best {best}")
