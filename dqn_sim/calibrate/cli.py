"""``python -m dqn_sim calibrate``: fit a scenario to a ratings log, save it by name, print how well it fits.

Registered by ``dqn_sim.cli.build_parser`` through ``add_parser``; heavy imports wait until the command runs.
Bad files and options raise one-line errors (DataError, ConfigError, UsageError) that the CLI prints with exit 2.
"""

from __future__ import annotations

import argparse
import json
import shlex

from dqn_sim.calibrate.layouts import FORMATS, ROLES
from dqn_sim.progress import ProgressBar

LIMITS = {"segments": (1, 32), "max_items": (2, 20000)}  # audience.n_segments, catalogue.n_items


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``calibrate`` on the CLI's sub-command parsers."""
    s = sub.add_parser("calibrate", help="fit a scenario to MovieLens-format (or mapped CSV/Parquet) logs")
    s.add_argument("--ratings", required=True, help="ratings file: u.data, ratings.csv, or a CSV/Parquet log")
    s.add_argument("--items", help="item file (u.item, movies.csv, or a CSV with item and category columns); "
                                   "MovieLens' is found beside the ratings when not given")
    s.add_argument("--format", default="auto", choices=FORMATS, help="layout of the ratings file (default: detected)")
    s.add_argument("--map", metavar="ROLE=COL,...", help=f"columns of a generic log by role: {', '.join(ROLES)}")
    s.add_argument("--segments", type=int, help="audience segments (default: the suggested count)")
    s.add_argument("--gap-minutes", type=float, default=30.0, help="inactivity that ends a session (default 30)")
    s.add_argument("--threshold", type=float, default=4.0, help="a rating at or above this is a click (default 4)")
    s.add_argument("--max-items", type=int, default=2000, help="keep the N most-interacted items (default 2000)")
    s.add_argument("--name", required=True, help="save the fitted scenario under this name")
    s.add_argument("--json", action="store_true", help="print one JSON object with the fit report")
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dqn_sim.calibrate.fit import FitOptions
    from dqn_sim.calibrate.layouts import parse_mapping
    from dqn_sim.calibrate.pipeline import calibrate
    from dqn_sim.cli import UsageError
    from dqn_sim.scenarios import ScenarioLibrary, check_name

    for option, (lo, hi) in LIMITS.items():
        value = getattr(args, option)
        if value is not None and not lo <= value <= hi:
            raise UsageError(f"--{option.replace('_', '-')} must be an integer in [{lo}, {hi}], got {value}")
    if not args.gap_minutes > 0:
        raise UsageError(f"--gap-minutes must be a number > 0, got {args.gap_minutes:g}")
    try:
        mapping = parse_mapping(args.map)
    except ValueError as e:
        raise UsageError(str(e)) from None
    name = check_name(args.name)
    options = FitOptions(segments=args.segments, gap_minutes=args.gap_minutes, threshold=args.threshold,
                         max_items=args.max_items, name=name)
    bar = ProgressBar(f"calibrate {name}")
    try:
        result = calibrate(args.ratings, args.items, args.format, mapping, options, progress=bar.update)
    finally:
        bar.close()
    library = ScenarioLibrary()
    library.save(name, result.scenario)
    path = library.path(name)
    if args.json:
        print(json.dumps(result.summary(path)))
        return 0
    a = result.scenario.audience
    print(f"saved scenario {name!r} to {path}: {result.n_users:,} users, {result.n_items:,} items, "
          f"{result.n_ratings:,} ratings; {a.n_segments} segments (suggested {result.fit.suggested_segments})")
    print("fitted:")
    for e in result.fit.explanations:
        print(f"  {e.quantity:<34} {e.value:<14} {e.how}")
    print("fit vs data, simulated under the log's exposure:")
    for c in result.report.comparisons:
        print(f"  {c.quantity:<17} {c.metric} {c.distance:.3f}  {c.note}")
    print(f"train on it: python -m dqn_sim train --config {shlex.quote(str(path))} --steps 100000 "
          f"--out {shlex.quote('runs/' + name.replace(' ', '_'))}")
    return 0
