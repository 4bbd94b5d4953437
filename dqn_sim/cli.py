"""``python -m dqn_sim``: presets, train, evaluate, bench (see the README for the contract).

Errors exit with code 2 and one line on stderr naming the bad field/value and what is allowed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dqn_sim import policies
from dqn_sim.assembly import RunConfig, assemble, read_config_file
from dqn_sim.config import ConfigError, ScenarioConfig
from dqn_sim.presets import DEFAULT_PRESET, describe_presets
from dqn_sim.progress import ProgressBar


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(f"{self.prog}: {message}")


# ------------------------------------------------------------------ configuration from the command line
def load_configs(args: argparse.Namespace) -> RunConfig:
    """``--preset``, then ``--config FILE``, then ``--set`` overrides (see ``dqn_sim.assembly``)."""
    config = read_config_file(args.config) if args.config else None
    return assemble(args.preset, config, args.set or [])


# ------------------------------------------------------------------ commands
def cmd_presets(args: argparse.Namespace) -> int:
    presets = describe_presets()
    if args.json:
        print(json.dumps([{"name": k, "description": v, "default": k == DEFAULT_PRESET}
                          for k, v in presets.items()]))
    else:
        width = max(map(len, presets))
        for name, text in presets.items():
            mark = " (default)" if name == DEFAULT_PRESET else ""
            print(f"{name:<{width}}  {text}{mark}")
    return 0


def cmd_policies(args: argparse.Namespace) -> int:
    """The policy registry: what ``evaluate --policy`` takes, what the charts call each policy."""
    if args.json:
        print(json.dumps([{"name": p.name, "label": p.label, "kind": p.kind, "description": p.description,
                           "evaluated_in_training": p.factory is not None and p.in_training}
                          for p in policies.POLICIES.values()]))
    else:
        width = max(map(len, policies.POLICIES))
        for p in policies.POLICIES.values():
            print(f"{p.name:<{width}}  {p.kind:<8}  {p.label}: {p.description}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from dqn_sim.train.evaluate import evaluate_baseline, evaluate_policy

    scenario = load_configs(args).scenario
    bar = ProgressBar(f"evaluate {args.policy}")
    if args.policy.startswith("dqn:"):
        agent = load_agent_for(scenario, Path(args.policy[4:]))
        result = evaluate_policy(agent, scenario, args.episodes, args.seed, learn=False, progress=bar.update)
    elif args.policy in policies.fixed_policies():
        result = evaluate_baseline(args.policy, scenario, args.episodes, args.seed)
    else:
        raise UsageError(
            f"--policy must be one of {', '.join(policies.fixed_policies())} or dqn:DIR, got {args.policy!r}"
        )
    bar.close()
    out = result.summary()
    if args.policy.startswith("dqn:"):
        out["policy"] = args.policy
    if args.json:
        print(json.dumps(out))
    else:
        lo, hi = out["return_ci"]
        clo, chi = out["ctr_ci"]
        print(f"{out['policy']}: return {out['return_mean']:.3f} [{lo:.3f}, {hi:.3f}] · ctr {out['ctr']:.4f} "
              f"[{clo:.4f}, {chi:.4f}] · {out['episodes']} episodes, mean length {out['episode_len_mean']:.1f}")
    return 0


def load_agent_for(scenario: ScenarioConfig, run_dir: Path):
    """Load ``run_dir/model.pt`` (or a .pt file) and check it fits the scenario's shapes."""
    from dqn_sim.agents.dqn import DQNAgent
    from dqn_sim.sim.env import VecRecEnv

    path = run_dir / "model.pt" if run_dir.is_dir() else run_dir
    if not path.exists():
        raise UsageError(f"--policy dqn:{run_dir}: no checkpoint at {path}")
    agent, _ = DQNAgent.load(path)
    env = VecRecEnv(scenario, 1, 0)
    if (agent.obs_dim, agent.n_items) != (env.obs_dim, env.n_items):
        raise UsageError(
            f"checkpoint {path} was trained with obs_dim={agent.obs_dim}, n_items={agent.n_items}; "
            f"this scenario has obs_dim={env.obs_dim}, n_items={env.n_items}"
        )
    return agent


def cmd_train(args: argparse.Namespace) -> int:
    from dqn_sim.store import RunStore
    from dqn_sim.train.job import TrainingJob
    from dqn_sim.train.outputs import write_run_dir
    from dqn_sim.train.recording import StoreObserver

    run = load_configs(args)
    scenario, agent = run.scenario, run.agent
    train = run.train.with_overrides({k: v for k, v in (("total_steps", args.steps), ("seed", args.seed))
                                  if v is not None})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = RunStore()
    job = TrainingJob(scenario, agent, train, name=args.name, observer=StoreObserver(store, source="cli")).start()
    bar = ProgressBar(f"train {scenario.name}")
    try:
        while not job.join(timeout=0.25):
            snap = job.snapshot()
            last = snap.metrics.iloc[-1] if len(snap.metrics) else None
            detail = f"{snap.step}/{snap.total_steps} steps"
            if last is not None:
                detail += f" · return {last.episode_return:.2f} · {last.sps:,.0f} steps/s"
            bar.update(snap.progress, detail)
    except KeyboardInterrupt:
        job.stop()
        job.join()
    bar.close()
    snap = job.snapshot()
    write_run_dir(out, snap, job.policy())
    s = snap.summary
    if snap.state in ("failed", "diverged"):
        print(f"error: training {snap.state}: {snap.error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"state": snap.state, "out": str(out), "run_id": snap.run_id, **s}, default=float))
    else:
        print(f"{snap.state}: {s.get('steps')} steps in {s.get('wall_time', 0):.1f}s · DQN return "
              f"{s.get('dqn_return', float('nan')):.3f} vs best baseline {s.get('best_baseline')} "
              f"{s.get('best_baseline_return', float('nan')):.3f} · written to {out} · run {snap.run_id}")
    return 0


RUN_LIST_COLUMNS = ["id", "name", "status", "preset", "created", "seed", "dqn_return", "best_baseline",
                    "best_baseline_return", "steps"]


def cmd_runs(args: argparse.Namespace) -> int:
    import pandas as pd

    from dqn_sim.store import RunStore

    runs = RunStore().list_runs()
    cols = [c for c in RUN_LIST_COLUMNS if c in runs.columns]
    runs = runs[cols]
    if args.json:
        print(runs.to_json(orient="records"))
    elif runs.empty:
        print("no runs yet: train one with `python -m dqn_sim train` or in the app")
    else:
        runs = runs.assign(created=pd.to_datetime(runs["created"], unit="s").dt.strftime("%Y-%m-%d %H:%M"))
        print(runs.to_string(index=False))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from dqn_sim.store import RunStore

    path = RunStore().export_zip(args.run_id, args.out)
    print(json.dumps({"run_id": args.run_id, "path": str(path)}) if args.json else f"exported {args.run_id} to {path}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from dqn_sim.store import RunStore

    run_id = RunStore().import_zip(args.file)
    print(json.dumps({"run_id": run_id}) if args.json else f"imported {args.file} as run {run_id}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from dqn_sim.bench import simulator_benchmark, training_benchmark

    bar = ProgressBar("bench")
    result = {"simulator": simulator_benchmark(args.seconds, progress=lambda f: bar.update(0.3 * f))}
    if not args.sim_only:
        result["training"] = training_benchmark(
            budget_s=args.train_seconds, progress=lambda f: bar.update(0.3 + 0.7 * f)
        )
    bar.close()
    if args.json:
        print(json.dumps(result, default=float))
    else:
        for section, values in result.items():
            print(f"[{section}]")
            for k, v in values.items():
                print(f"  {k:45s} {v:,.2f}" if isinstance(v, float) else f"  {k:45s} {v}")
    return 0


# ------------------------------------------------------------------ entry point
def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m dqn_sim", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("presets", help="list the named scenarios")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_presets)

    def scenario_args(s: argparse.ArgumentParser) -> None:
        s.add_argument("--preset", default=DEFAULT_PRESET, help="named scenario (see `presets`)")
        s.add_argument("--config", help="JSON file: a scenario, or {scenario, agent, train}")
        s.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a field by dotted path, e.g. agent.lr=5e-4 (repeatable)")

    s = sub.add_parser("policies", help="list the policies (learners, baselines, oracles)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_policies)

    s = sub.add_parser("train", help="train a DQN (baselines evaluated on the same seeds)")
    scenario_args(s)
    s.add_argument("--steps", type=int, help="environment user-steps (train.total_steps)")
    s.add_argument("--seed", type=int, help="random seed (train.seed)")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--name", help="run name")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("evaluate", help="evaluate a baseline or a trained DQN with 95%% intervals")
    scenario_args(s)
    s.add_argument("--policy", required=True, help=" | ".join([*policies.fixed_policies(), "dqn:DIR"]))
    s.add_argument("--episodes", type=int, default=500)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("runs", help="list stored runs (app and CLI)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_runs)

    s = sub.add_parser("export", help="export a stored run as one zip")
    s.add_argument("run_id")
    s.add_argument("--out", required=True, help="zip file to write")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("import", help="import a run zip into the store")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("bench", help="simulator and training throughput")
    s.add_argument("--json", action="store_true")
    s.add_argument("--seconds", type=float, default=1.0, help="measuring time per simulator figure")
    s.add_argument("--train-seconds", type=float, default=90.0, help="time budget of the training benchmark")
    s.add_argument("--sim-only", action="store_true", help="skip the training benchmark")
    s.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        for name in ("episodes", "steps"):
            value = getattr(args, name, None)
            if value is not None and value < 1:
                raise UsageError(f"--{name} must be an integer >= 1, got {value}")
        return args.func(args)
    except (UsageError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (ValueError, KeyError, OSError) as e:  # a refused checkpoint or zip, an unknown run id
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
