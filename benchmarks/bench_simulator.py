"""Simulator user-steps/s on video and recsim-ie at batch 1, 64, 4096, against the one-at-a-time reference.

    python benchmarks/bench_simulator.py   (same as `python -m dqn_sim bench --sim-only`)
"""

import sys

from dqn_sim.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "--sim-only", *sys.argv[1:]]))
