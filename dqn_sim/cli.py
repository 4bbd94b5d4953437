"""``python -m dqn_sim``: presets, train, evaluate, bench (see the README for the contract).

Errors exit with code 2 and one line on stderr naming the bad field/value and what is allowed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dqn_sim import memory, policies
from dqn_sim.agent_presets import AGENT_PRESETS, agent_preset
from dqn_sim.assembly import RunConfig, assemble, read_config_file
from dqn_sim.config import ScenarioConfig, TrainConfig
from dqn_sim.errors import INPUT_ERRORS, one_line
from dqn_sim.presets import DEFAULT_PRESET, describe_presets
from dqn_sim.progress import ProgressBar
from dqn_sim.vocab import FAILURE_STATES, LIVE_STATES

if TYPE_CHECKING:  # the engine is imported by the commands that need it: `presets` stays fast
    import pandas as pd

    from dqn_sim.store import RunStore
    from dqn_sim.train.groups import GroupJob
    from dqn_sim.train.job import TrainingJob


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(f"{self.prog}: {message}")


# ------------------------------------------------------------------ configuration from the command line
def load_configs(args: argparse.Namespace) -> RunConfig:
    """``--preset``, then ``--config FILE``, then ``train --agent-preset``'s settings, then ``--set`` overrides (see
    ``dqn_sim.assembly``)."""
    config = read_config_file(args.config) if args.config else None
    agent = agent_preset(args.agent_preset).overrides() if getattr(args, "agent_preset", None) else []
    return assemble(args.preset, config, [*agent, *(args.set or [])])


def open_store():  # -> RunStore
    """The run store of ``$DQN_SIM_HOME``; what opening it had to repair (a damaged database moved aside) is said
    on stderr, so a script's stdout stays clean."""
    from dqn_sim.store import RunStore

    store = RunStore()
    for warning in store.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return store


def command_line_user() -> str:
    """Who a run trained here is stored as started by: the command line, with the OS user where one is known (the
    studio stores a signed-in account)."""
    try:
        return f"{getpass.getuser()} (CLI)"
    except (KeyError, OSError):  # no user name in the environment, and none in a container's password database
        return "CLI"


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
    memory.evaluation(scenario, args.episodes).check()
    bar = ProgressBar(f"evaluate {args.policy}")
    learner, trained, folder = args.policy.partition(":")
    if trained and learner in policies.learners():
        agent = load_agent_for(scenario, learner, Path(folder))
        result = evaluate_policy(agent, scenario, args.episodes, args.seed, learn=False, progress=bar.update)
    elif args.policy in policies.fixed_policies():
        result = evaluate_baseline(args.policy, scenario, args.episodes, args.seed)
    else:
        raise UsageError(f"--policy must be one of {', '.join(policies.fixed_policies())} or LEARNER:DIR with LEARNER "
                         f"one of {', '.join(policies.learners())}, got {args.policy!r}")
    bar.close()
    out = result.summary()
    if trained:
        out["policy"] = args.policy
    if args.json:
        print(json.dumps(out))
    else:
        lo, hi = out["return_ci"]
        clo, chi = out["ctr_ci"]
        print(f"{out['policy']}: return {out['return_mean']:.3f} [{lo:.3f}, {hi:.3f}] · ctr {out['ctr']:.4f} "
              f"[{clo:.4f}, {chi:.4f}] · {out['episodes']} episodes, mean length {out['episode_len_mean']:.1f}")
    return 0


def load_agent_for(scenario: ScenarioConfig, learner: str, run_dir: Path):
    """Load ``learner``'s ``run_dir/model.pt`` (or a .pt file), refused before it is built if its sizes are not the
    scenario's or it would not fit in memory; warn on stderr when it was trained in another world of those sizes."""
    from dqn_sim import model_files

    path = run_dir / "model.pt" if run_dir.is_dir() else run_dir
    if not path.exists():
        raise UsageError(f"--policy {learner}:{run_dir}: no checkpoint at {path}")
    agent, trained_on = model_files.load_learner(learner, path, model_files.scene(scenario))
    if warning := model_files.world_warning(trained_on, scenario, f"checkpoint {path}"):
        print(f"warning: {warning}", file=sys.stderr)
    return agent


def follow(job: TrainingJob | GroupJob, label: str, progress: Callable[[], tuple[float, str]]) -> None:
    """Draw ``progress()`` (fraction, detail) until the job ends; Ctrl+C stops it cleanly (its rows are kept)."""
    bar = ProgressBar(label)
    try:
        while not job.join(timeout=0.25):
            bar.update(*progress())
    except KeyboardInterrupt:
        job.stop()
        job.join()
    bar.close()


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (``kill``, a scheduler's stop, a container's shutdown) ends training as Ctrl+C does: a clean stop
    that writes ``--out``, instead of an exit with nothing written."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def writable_folder(out: Path) -> Path:
    """``out``, created, once a file could be written in it: a read-only disk is found before training, not
    after it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise UsageError(f"--out {out} is not a writable folder: {e.strerror or e}") from None
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from dqn_sim.train.groups import members_at_once

    if args.seeds < 1:
        raise UsageError(f"--seeds must be an integer >= 1, got {args.seeds}")
    if args.parallel is not None and args.parallel < 1:
        raise UsageError(f"--parallel must be an integer >= 1, got {args.parallel}")
    run = load_configs(args)
    train = run.train.with_overrides({k: v for k, v in (("total_steps", args.steps), ("seed", args.seed),
                                                        ("algo", args.algo)) if v is not None})
    at_once = min(args.seeds, args.parallel or members_at_once(args.seeds))
    memory.training(run.scenario, run.agent, train, runs=at_once).check()
    out = writable_folder(Path(args.out))
    with sigterm_as_ctrl_c():
        if args.seeds > 1:
            return train_group(args, run, train, out, open_store())
        return train_one(args, run, train, out, open_store())


def train_one(args: argparse.Namespace, run: RunConfig, train: TrainConfig, out: Path, store: RunStore) -> int:
    from dqn_sim.train.job import TrainingJob
    from dqn_sim.train.outputs import write_run_dir
    from dqn_sim.train.recording import StoreObserver, saving_detail

    scenario = run.scenario
    observer = StoreObserver(store, source="cli", started_by=command_line_user())
    job = TrainingJob(scenario, run.agent, train, name=args.name, observer=observer)

    def progress() -> tuple[float, str]:
        snap = job.snapshot()
        last = snap.metrics.iloc[-1] if len(snap.metrics) else None
        detail = f"{snap.step}/{snap.total_steps} steps"
        if last is not None:
            detail += f" · return {last.episode_return:.2f} · {last.sps:,.0f} steps/s"
        return snap.progress, detail + saving_detail(observer)  # training goes on while the store refuses writes

    follow(job.start(), f"train {scenario.name}", progress)
    snap = job.snapshot()
    write_run_dir(out, snap, job.policy())
    s = snap.summary
    if snap.state in FAILURE_STATES:
        said = f"training {snap.state}"  # a diverged run's error already begins so
        print(f"error: {snap.error if (snap.error or '').startswith(said) else f'{said}: {snap.error}'}",
              file=sys.stderr)
        return 1
    if snap.error:  # it trained, but the store could not take all of it in time: --out holds the run
        print(f"warning: {one_line(snap.error)}", file=sys.stderr)
    if args.json:
        print(json.dumps({"state": snap.state, "out": str(out), "run_id": snap.run_id, **s}, default=float))
    else:
        print(f"{snap.state}: {s.get('steps')} steps in {s.get('wall_time', 0):.1f}s · {policies.label(train.algo)} "
              f"return {s.get(f'{train.algo}_return', float('nan')):.3f} vs best baseline {s.get('best_baseline')} "
              f"{s.get('best_baseline_return', float('nan')):.3f} · written to {out} · run {snap.run_id}")
    return 0


def train_group(args: argparse.Namespace, run: RunConfig, train: TrainConfig, out: Path, store: RunStore) -> int:
    """``--seeds N``: the configuration on seeds ``seed … seed + N - 1``, members in ``out/seed_<s>/``, the group's
    summary (IQM and mean over seeds with bootstrap intervals) in ``out/summary.json``."""
    from dqn_sim.train.group_recording import StoreGroupRecorder
    from dqn_sim.train.groups import GroupJob, seed_range
    from dqn_sim.train.outputs import write_group_dir
    from dqn_sim.train.recording import saving_detail

    recorder = StoreGroupRecorder(store, source="cli", started_by=command_line_user())
    group = GroupJob(run.scenario, run.agent, train, seed_range(train.seed, args.seeds), name=args.name,
                     recorder=recorder, max_parallel=args.parallel)

    def progress() -> tuple[float, str]:
        st = group.status()
        training = sum(m.state in LIVE_STATES for m in st.members)
        return st.progress, f"{st.ended}/{len(st.members)} seeds done · {training} training" + saving_detail(recorder)

    follow(group.start(), f"train {run.scenario.name} × {args.seeds} seeds", progress)
    s = write_group_dir(out, group)
    if s["state"] == "failed":
        print(f"error: training failed: {s['error']}", file=sys.stderr)
        return 1
    if s["error"]:  # it trained, but the store could not take all of it in time: --out holds the group
        print(f"warning: {one_line(s['error'])}", file=sys.stderr)
    if args.json:
        print(json.dumps({"out": str(out), **s}, default=float))
        return 0
    mine, best = s["aggregate"][train.algo], s["best_baseline"]
    line = f"{s['state']}: {args.seeds} seeds · {policies.label(train.algo)} test return IQM {_iqm_text(mine)}"
    if best is not None:
        line += f" vs best baseline {best} {_iqm_text(s['aggregate'][best])}"
    print(f"{line} (95% intervals over training seeds) · written to {out} · group {s['group_id']}")
    return 0


def _iqm_text(stats: dict) -> str:
    if stats["iqm"] is None:
        return "—"
    lo, hi = stats["iqm_ci"]
    return f"{stats['iqm']:.3f} [{lo:.3f}, {hi:.3f}]"


def cmd_compare(args: argparse.Namespace) -> int:
    """P(A > B) and the IQM difference of two runs, groups or ``--out`` folders, with the variation covered."""
    from dqn_sim.compare import compare, resolve

    store = open_store()
    r = compare(resolve(args.a, store), resolve(args.b, store))
    if args.json:
        print(json.dumps(r))
        return 0
    for key in ("a", "b"):
        side = r[key]
        print(f"{key.upper()}: {side['kind']} {side['ref']} ({side['name']}) · {side['seeds']} seed"
              + ("s" if side["seeds"] != 1 else ""))
    p, (lo, hi) = r["probability_of_improvement"], r["probability_of_improvement_ci"]
    d, (dlo, dhi) = r["iqm_difference"], r["iqm_difference_ci"]
    print(f"P(A > B) = {p:.2f} [{lo:.2f}, {hi:.2f}] over {r['variation']} (n = {r['n_a']} vs {r['n_b']})")
    print(f"IQM difference A - B = {d:+.3f} [{dlo:+.3f}, {dhi:+.3f}] (IQM A {r['iqm_a']:.3f}, B {r['iqm_b']:.3f})")
    print(r["sentence"])
    print(r["note"])
    return 0


RUN_LIST_COLUMNS = ["id", "name", "status", "preset", "created", "started_by", "seed", "dqn_return",
                    "best_baseline", "best_baseline_return", "steps"]


def cmd_runs(args: argparse.Namespace) -> int:
    store = open_store()
    if args.orphans:
        orphans = [str(p) for p in store.orphans()]
        print(json.dumps(orphans) if args.json else "\n".join(orphans) or "no orphaned checkpoint folders")
        return 0
    runs = store.list_runs()
    print_listing(runs[[c for c in RUN_LIST_COLUMNS if c in runs.columns]], as_json=args.json,
                  empty="no runs yet: train one with `python -m dqn_sim train` or in the app")
    return 0


def print_listing(table: pd.DataFrame, *, as_json: bool, empty: str) -> None:
    """A stored listing (runs, groups): JSON records, or a table with readable creation times, or ``empty``."""
    import pandas as pd

    if as_json:
        print(table.to_json(orient="records"))
    elif table.empty:
        print(empty)
    else:
        table = table.assign(created=pd.to_datetime(table["created"], unit="s").dt.strftime("%Y-%m-%d %H:%M"))
        print(table.to_string(index=False))


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete a stored run (its rows and checkpoint): the way to repair a store holding a bad run."""
    store = open_store()
    run = store.get_run(args.run_id)  # RunNotFound: exit 2, one line
    if not args.yes:
        raise UsageError(f"delete {args.run_id} ({run['name']!r}) removes it for good: pass --yes to confirm")
    store.delete(args.run_id, by="the command line")
    print(json.dumps({"deleted": args.run_id}) if args.json else f"deleted {args.run_id} ({run['name']})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """A one-page HTML report of a stored run (headline numbers, charts, configuration), readable offline."""
    from dqn_sim.report import write_report
    from dqn_sim.runs import stored_snapshot

    path = write_report(stored_snapshot(open_store(), args.run_id), args.out)
    print(json.dumps({"run_id": args.run_id, "path": str(path)}) if args.json else f"wrote {path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """A run's zip, or a group's (its members' zips inside)."""
    from dqn_sim.store.groups import GroupNotFound, GroupStore

    store = open_store()
    try:
        path = GroupStore(store).export_zip(args.run_id, args.out)
    except GroupNotFound:
        path = store.export_zip(args.run_id, args.out)
        print(json.dumps({"run_id": args.run_id, "path": str(path)}) if args.json
              else f"exported {args.run_id} to {path}")
        return 0
    print(json.dumps({"group_id": args.run_id, "path": str(path)}) if args.json
          else f"exported group {args.run_id} to {path}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from dqn_sim.store.groups import GroupStore, is_group_export

    store = open_store()
    if is_group_export(args.file):
        group_id = GroupStore(store).import_zip(args.file)
        print(json.dumps({"group_id": group_id}) if args.json else f"imported {args.file} as group {group_id}")
        return 0
    run_id = store.import_zip(args.file)
    print(json.dumps({"run_id": run_id}) if args.json else f"imported {args.file} as run {run_id}")
    return 0


def cmd_groups(args: argparse.Namespace) -> int:
    """Stored run groups: one configuration on several seeds."""
    from dqn_sim.store.groups import GroupStore

    print_listing(GroupStore(open_store()).list_groups(), as_json=args.json,
                  empty="no groups yet: train one with `python -m dqn_sim train --seeds N`")
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

    s = sub.add_parser("train", help="train a DQN or a rival learner (baselines evaluated on the same seeds)")
    scenario_args(s)
    s.add_argument("--algo", choices=policies.learners(), help="the learner to train (train.algo; default dqn)")
    s.add_argument("--agent-preset", choices=list(AGENT_PRESETS),
                   help="DQN settings laid over the preset's before --set: " + "; ".join(
                       f"{p.name} = {p.description.rstrip('.')}" for p in AGENT_PRESETS.values()))
    s.add_argument("--steps", type=int, help="environment user-steps (train.total_steps)")
    s.add_argument("--seed", type=int, help="random seed (train.seed); a group's first seed")
    s.add_argument("--seeds", type=int, default=1,
                   help="train on N seeds (seed, seed+1, ...) as one group, aggregated over seeds")
    s.add_argument("--parallel", type=int, help="members of a group training at once (default: as few even waves as "
                   "the cores allow, e.g. 3 then 2 for 5 seeds on 2 cores)")
    s.add_argument("--out", required=True, help="output folder (a group's members in seed_<s>/ under it)")
    s.add_argument("--name", help="run name")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("evaluate", help="evaluate a baseline or a trained learner with 95%% intervals")
    scenario_args(s)
    s.add_argument("--policy", required=True,
                   help=" | ".join([*policies.fixed_policies(), *(f"{n}:DIR" for n in policies.learners())]))
    s.add_argument("--episodes", type=int, default=500)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("compare", help="does A beat B? probability of improvement and IQM difference")
    s.add_argument("a", help="run id, group id, or a train --out folder")
    s.add_argument("b", help="run id, group id, or a train --out folder")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("runs", help="list stored runs (app and CLI)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--orphans", action="store_true", help="list checkpoint folders whose run is gone instead")
    s.set_defaults(func=cmd_runs)

    s = sub.add_parser("delete", help="delete a stored run, its metrics and its model")
    s.add_argument("run_id")
    s.add_argument("--yes", action="store_true", help="confirm: the run is removed for good")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_delete)

    s = sub.add_parser("groups", help="list stored run groups (several seeds of one configuration)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_groups)

    s = sub.add_parser("export", help="export a stored run, or a group with its members, as one zip")
    s.add_argument("run_id", metavar="ID", help="run or group id")
    s.add_argument("--out", required=True, help="zip file to write")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("report", help="write a one-page HTML report of a stored run")
    s.add_argument("run_id")
    s.add_argument("--out", required=True, help="HTML file to write")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("import", help="import a run or group zip into the store")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("bench", help="simulator and training throughput")
    s.add_argument("--json", action="store_true")
    s.add_argument("--seconds", type=float, default=1.0, help="measuring time per simulator figure")
    s.add_argument("--train-seconds", type=float, default=90.0, help="time budget of the training benchmark")
    s.add_argument("--sim-only", action="store_true", help="skip the training benchmark")
    s.set_defaults(func=cmd_bench)

    from dqn_sim.calibrate.cli import add_parser as add_calibrate  # its own module: readers, fitting, report
    from dqn_sim.sweep.cli import add_parser as add_sweep  # its own package: Optuna study, executors

    add_calibrate(sub)
    add_sweep(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        for name in ("episodes", "steps"):
            value = getattr(args, name, None)
            if value is not None and value < 1:
                raise UsageError(f"--{name} must be an integer >= 1, got {value}")
        return args.func(args)
    except (UsageError, *INPUT_ERRORS) as e:  # bad input, a refused checkpoint or zip, an unknown run id, a bad store
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
