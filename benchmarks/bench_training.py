"""Full training loop on video: env steps/s, gradient updates/s, seconds until DQN beats every baseline.

    python benchmarks/bench_training.py [--train-seconds 90]   (same as `python -m dqn_sim bench`)
"""

import sys

from dqn_sim.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", *sys.argv[1:]]))
