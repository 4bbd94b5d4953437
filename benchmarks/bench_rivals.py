"""Rival learners against the DQN in the same batched loop: user-steps/s as ratios to the DQN's measured in the same
invocation (interleaved rounds, each learner's best), and, with --table, the results of a full training run each.

    .venv/bin/python benchmarks/bench_rivals.py [--preset video] [--steps 20000] [--rounds 2] [--json]
    .venv/bin/python benchmarks/bench_rivals.py --table [--table-steps 250000]   (one training process at a time)

Throughput runs train without evaluations (the loop alone: act, step, store, learn); the table trains each learner on
the default budget with its test evaluation beside every baseline on the same users.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dqn_sim import policies  # noqa: E402
from dqn_sim.config import TrainConfig  # noqa: E402
from dqn_sim.presets import get_preset, preset_agent  # noqa: E402
from dqn_sim.train.threads import one_thread  # noqa: E402
from dqn_sim.train.trainer import Trainer  # noqa: E402

NO_EVALUATION = 10**9  # the largest eval_every: none within a throughput run


def throughput(preset: str, algo: str, steps: int, seed: int) -> float:
    """User-steps/s of ``steps`` user-steps of the training loop (learning included, evaluations left out)."""
    trainer = Trainer(get_preset(preset), preset_agent(preset),
                      TrainConfig(total_steps=steps, eval_every=NO_EVALUATION, algo=algo, seed=seed))
    while not trainer.done:
        trainer.step()
    return trainer.step_count / trainer.wall_time


def speed_ratios(preset: str, steps: int, rounds: int, seed: int) -> dict:
    best = {algo: 0.0 for algo in policies.learners()}
    for _ in range(rounds):  # interleaved, so a busy moment of the machine hits every learner alike
        for algo in best:
            best[algo] = max(best[algo], throughput(preset, algo, steps, seed))
    return {algo: {"steps_per_s": sps, "vs_dqn": sps / best["dqn"]} for algo, sps in best.items()}


def result_table(preset: str, steps: int, seed: int) -> dict:
    """Each learner trained on ``steps`` user-steps; its test result, and the baselines' on the same test users."""
    rows: dict[str, dict] = {}
    for algo in policies.learners():
        trainer = Trainer(get_preset(preset), preset_agent(preset),
                          TrainConfig(total_steps=steps, algo=algo, seed=seed))
        trainer.evaluate_baselines()
        while not trainer.done:
            trainer.step()
        trainer.finish()
        for row in trainer.evals:
            if row["split"] == "test" and (row["policy"] == algo or row["policy"] not in rows):
                rows[row["policy"]] = {"return": row["return_mean"], "return_ci": [row["return_lo"], row["return_hi"]],
                                       "ctr": row["ctr"]}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="video")
    parser.add_argument("--steps", type=int, default=20_000, help="user-steps per throughput run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", action="store_true", help="also train each learner on the full budget")
    parser.add_argument("--table-steps", type=int, default=TrainConfig().total_steps)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    one_thread()  # as in a training process of the studio and the CLI
    out: dict = {"preset": args.preset, "speed": speed_ratios(args.preset, args.steps, args.rounds, args.seed)}
    if args.table:
        out["table"] = result_table(args.preset, args.table_steps, args.seed)
    if args.json:
        print(json.dumps(out))
        return
    print(f"[{args.preset}: user-steps/s in the same loop, best of {args.rounds} interleaved rounds]")
    for algo, row in out["speed"].items():
        print(f"  {policies.label(algo):<22} {row['steps_per_s']:>9,.0f}  {row['vs_dqn']:.2f} x DQN")
    if args.table:
        print(f"[{args.preset}: test results after {args.table_steps:,} user-steps, seed {args.seed}]")
        for name, row in sorted(out["table"].items(), key=lambda kv: -kv[1]["return"]):
            lo, hi = row["return_ci"]
            print(f"  {policies.label(name):<26} return {row['return']:7.2f} [{lo:.2f}, {hi:.2f}]  "
                  f"ctr {row['ctr']:.3f}")


if __name__ == "__main__":
    main()
