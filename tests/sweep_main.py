"""``python -m dqn_sim`` with the sweep commands registered as ``dqn_sim.cli.build_parser`` will register them
(``add_parser(sub)``), for tests that run the CLI in a subprocess: ``python -m tests.sweep_main sweep ...``."""

from __future__ import annotations

import argparse
import sys

from dqn_sim import cli
from dqn_sim.sweep.cli import add_parser


def build_parser() -> argparse.ArgumentParser:
    parser = _build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "sweep" not in sub.choices:  # until the main parser registers them itself
        add_parser(sub)
    return parser


_build_parser = cli.build_parser

if __name__ == "__main__":
    cli.build_parser = build_parser
    sys.exit(cli.main(sys.argv[1:]))
