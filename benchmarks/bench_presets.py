"""Every preset learns (#13) and every policy on every preset (#9): the evidence tables, from the CLI's own runs.

    .venv/bin/python benchmarks/bench_presets.py [--out /tmp/bench_presets] [--seeds 5] [--presets video,news]
        [--seeds-for shop=3,live=3] [--steps N] [--rivals] [--reuse] [--table-only] [--json]

For each preset, trains a run group of the DQN at the preset's own budget exactly as a user would
(``python -m dqn_sim train --preset P --seeds 5 --parallel 1 --out OUT/dqn/P --json``), one training process at a
time (``--parallel 1`` and ``DQN_SIM_MAX_JOBS=1``), in a store of its own (``DQN_SIM_HOME=OUT/home``, nothing of
the user's ``~/.dqn_sim`` is touched). From each group's ``summary.json`` (test users: the held-out result) it
prints: the DQN's IQM [95% bootstrap interval over training seeds], the best rival (baselines and the myopic
oracle, never the patient-oracle ceiling) with its IQM [interval], whether the two intervals are apart (the DQN's
lower end above the rival's upper end), the ceiling's IQM, the DQN's share of the ceiling (IQM / IQM) and the
worst seed's DQN return.

``--rivals`` also trains each rival learner (``--algo linucb|thompson|reinforce``) on each preset on seed 0 at the
default budget (``OUT/ALGO/P``, one process at a time) and prints, per policy x preset, the test return, CTR,
catalogue coverage, in-session diversity and clickbait share from the run's ``evals.csv`` (the ``test`` rows).
The fixed baselines and oracles come from the DQN group's seed-0 member (same world, same test users).
``--reuse`` keeps any output folder that already holds a ``summary.json``; ``--table-only`` trains nothing.

Measured 2026-12-02 on commit 83a0713 (2 shared CPU cores, another helper's work on the other core), full tables,
commands and oddities in ``benchmarks/presets.md``. DQN IQM [95% CI] vs the best rival, test users, 5 seeds:
video 70.6 [67.0, 73.2] vs oracle 43.4; news 20.3 [19.8, 21.4] vs greedy 12.4; live 89.9 [89.4, 91.7] vs oracle
82.2; shop 901.4 [872.0, 945.7] vs oracle 1005.0 [969.6, 1021.3] (not apart: below; on shop's world since
session 7, budget_refill 0.6: 1190.0 [1103.9, 1275.7] vs oracle 876.0 [849.2, 887.3], apart, 145 s);
ads 22.7 [20.9, 23.6] vs oracle 13.6; recsim-ie 268.2 [262.7, 272.7] vs oracle 171.4; 62-90% of the ceiling.
Groups took 160-869 s each, 46 min in all; rival runs 16-304 s each; REINFORCE diverges at its first update on
news and live (masked items).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ("video", "news", "live", "shop", "ads", "recsim-ie")
RIVAL_LEARNERS = ("linucb", "thompson", "reinforce")
CEILING = "patient-oracle"
LEARNER = "dqn"


def train(preset: str, out: Path, *, seeds: int, algo: str, steps: int | None, env: dict, reuse: bool) -> dict:
    """One ``python -m dqn_sim train`` (a group when ``seeds`` > 1); its command line and wall time."""
    cmd = [sys.executable, "-m", "dqn_sim", "train", "--preset", preset, "--out", str(out), "--json"]
    if algo != LEARNER:
        cmd += ["--algo", algo]
    if seeds > 1:
        cmd += ["--seeds", str(seeds), "--parallel", "1"]
    if steps:
        cmd += ["--steps", str(steps)]
    shown = " ".join(["python", *cmd[1:]])
    if reuse and (out / "summary.json").exists():
        return {"command": shown, "wall_s": None, "reused": True}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:  # recorded and reported; the other runs go on
        error = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit code {done.returncode}"
        print(f"  {preset:<10} {algo:<9} x{seeds}: FAILED after {wall:.0f} s: {error}", file=sys.stderr, flush=True)
        return {"command": shown, "wall_s": wall, "reused": False, "error": error}
    print(f"  {preset:<10} {algo:<9} x{seeds}: {wall:6.0f} s", file=sys.stderr, flush=True)
    return {"command": shown, "wall_s": wall, "reused": False}


def group_row(summary: dict) -> dict:
    """The #13 row of one DQN group's ``summary.json``."""
    agg = summary["aggregate"]
    dqn, best_name = agg[LEARNER], summary["best_baseline"]
    best, ceiling = agg[best_name], agg.get(CEILING, {})
    per_seed = {row["seed"]: row[f"{LEARNER}_return"] for row in summary["per_seed"]}
    worst_seed = min((s for s, v in per_seed.items() if v is not None), key=lambda s: per_seed[s])
    return {
        "seeds": summary["seeds"],
        "dqn_iqm": dqn["iqm"], "dqn_ci": dqn["iqm_ci"],
        "best_baseline": best_name, "best_iqm": best["iqm"], "best_ci": best["iqm_ci"],
        "apart": dqn["iqm_ci"][0] > best["iqm_ci"][1],
        "gap_to_apart": dqn["iqm_ci"][0] - best["iqm_ci"][1],
        "ceiling_iqm": ceiling.get("iqm"),
        "share_of_ceiling": dqn["iqm"] / ceiling["iqm"] if ceiling.get("iqm") else None,
        "worst_seed": worst_seed, "worst_seed_return": per_seed[worst_seed],
        "dqn_per_seed": per_seed,
    }


def test_rows(run_dir: Path) -> dict[str, dict]:
    """Per policy, its test evaluation from a run's ``evals.csv`` (the last ``test`` row of each policy)."""
    keep = ("return_mean", "ctr", "coverage", "diversity", "clickbait_share")
    rows: dict[str, dict] = {}
    with open(run_dir / "evals.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["split"] == "test":
                rows[row["policy"]] = {k: float(row[k]) if row[k] not in ("", "nan") else None for k in keep}
    return rows


def fmt(x: float | None, spec: str = ".2f") -> str:
    return "—" if x is None else format(x, spec)


def markdown_groups(rows: dict[str, dict]) -> str:
    lines = ["| preset | seeds | DQN IQM [95% CI] | best baseline IQM [95% CI] | apart? | ceiling IQM | "
             "DQN / ceiling | worst seed (DQN) |", "|---|---|---|---|---|---|---|---|"]
    for preset, r in rows.items():
        apart = "yes" if r["apart"] else f"no (gap {r['gap_to_apart']:+.2f})"
        lines.append(
            f"| {preset} | {len(r['seeds'])} | {r['dqn_iqm']:.2f} [{r['dqn_ci'][0]:.2f}, {r['dqn_ci'][1]:.2f}] | "
            f"{r['best_baseline']} {r['best_iqm']:.2f} [{r['best_ci'][0]:.2f}, {r['best_ci'][1]:.2f}] | {apart} | "
            f"{fmt(r['ceiling_iqm'])} | {fmt(r['share_of_ceiling'], '.0%')} | "
            f"seed {r['worst_seed']}: {r['worst_seed_return']:.2f} |")
    return "\n".join(lines)


def markdown_policies(table: dict[str, dict[str, dict]]) -> str:
    """One block per preset: each policy's return, CTR, coverage, diversity and clickbait share (seed 0, test)."""
    out = []
    for preset, rows in table.items():
        out += [f"**{preset}**", "", "| policy | return | CTR | coverage | diversity | clickbait share |",
                "|---|---|---|---|---|---|"]
        for name, r in sorted(rows.items(), key=lambda kv: -(kv[1].get("return_mean") or float("-inf"))):
            if "error" in r:
                out.append(f"| {name} | failed: {r['error']} | | | | |")
                continue
            out.append(f"| {name} | {fmt(r['return_mean'])} | {fmt(r['ctr'], '.2%')} | {fmt(r['coverage'], '.1%')} "
                       f"| {fmt(r['diversity'], '.3f')} | {fmt(r['clickbait_share'], '.1%')} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_presets"))
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--seeds-for", default="", help="per-preset seed counts, e.g. shop=3,live=3")
    parser.add_argument("--steps", type=int, help="user-steps (default: each preset's own total_steps)")
    parser.add_argument("--rivals", action="store_true", help="also train linucb, thompson, reinforce on seed 0")
    parser.add_argument("--reuse", action="store_true", help="keep outputs that already hold a summary.json")
    parser.add_argument("--table-only", action="store_true", help="train nothing; read the outputs in --out")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    presets = [p for p in args.presets.split(",") if p]
    seeds_for = {k: int(v) for k, v in (kv.split("=") for kv in args.seeds_for.split(",") if kv)}
    env = {**os.environ, "DQN_SIM_HOME": str(args.out / "home"), "DQN_SIM_MAX_JOBS": "1"}
    reuse = args.reuse or args.table_only
    runs: dict[str, dict] = {}

    groups: dict[str, dict] = {}
    for preset in presets:
        folder = args.out / LEARNER / preset
        if not args.table_only:
            runs[f"{LEARNER}/{preset}"] = train(preset, folder, seeds=seeds_for.get(preset, args.seeds),
                                                algo=LEARNER, steps=args.steps, env=env, reuse=reuse)
        if (folder / "summary.json").exists():
            groups[preset] = group_row(json.loads((folder / "summary.json").read_text()))

    policies: dict[str, dict[str, dict]] = {}
    if args.rivals:
        for preset in presets:
            for algo in RIVAL_LEARNERS:
                folder = args.out / algo / preset
                if not args.table_only:
                    runs[f"{algo}/{preset}"] = train(preset, folder, seeds=1, algo=algo, steps=args.steps, env=env,
                                                     reuse=reuse)
                if not (folder / "summary.json").exists():
                    continue
                if error := json.loads((folder / "summary.json").read_text()).get("error"):
                    policies.setdefault(preset, {})[algo] = {"error": error}
                elif algo in (found := test_rows(folder)):
                    policies.setdefault(preset, {})[algo] = found[algo]
            seed0 = args.out / LEARNER / preset / "seed_0"
            if (seed0 / "evals.csv").exists():
                policies.setdefault(preset, {}).update(test_rows(seed0))

    if args.json:
        print(json.dumps({"groups": groups, "policies": policies, "runs": runs}, indent=1))
        return
    print("## Every preset learns: DQN run groups, test users\n")
    print(markdown_groups(groups))
    if policies:
        print("\n## Every policy x every preset: seed 0, test users\n")
        print(markdown_policies(policies))


if __name__ == "__main__":
    main()
