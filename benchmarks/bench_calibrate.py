"""Calibration speed and memory on generated MovieLens-format logs (issue 14's targets: 100k ratings read + fit +
report <= 10 s; 10M rows <= 2 min with peak RSS <= 2 GB).

    python benchmarks/bench_calibrate.py                 # 100k, then 10M rows
    python benchmarks/bench_calibrate.py --rows 1000000  # a smaller large run

The large run calibrates in a child process, so its peak RSS is the calibration's alone (the log is written
first, by this process, block by block).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script (and its child) from anywhere, as the docstring says

from dqn_sim.calibrate.fit import FitOptions, fit_scenario  # noqa: E402
from dqn_sim.calibrate.readers import read_interactions  # noqa: E402
from dqn_sim.calibrate.report import compare  # noqa: E402
from dqn_sim.calibrate.simulate import simulate  # noqa: E402
from dqn_sim.calibrate.synth import SynthSpec, write_log  # noqa: E402

REPORT_SESSIONS = 4000


def timed_calibration(ratings: Path, items: Path | None) -> dict:
    """Seconds spent reading, fitting and reporting one log, and what was fitted."""
    t0 = time.perf_counter()
    data = read_interactions(ratings, items)
    t1 = time.perf_counter()
    fit = fit_scenario(data, FitOptions(name="bench"))
    t2 = time.perf_counter()
    report = compare(fit.profile, simulate(fit.scenario, fit.logging_SI, REPORT_SESSIONS), fit.scenario)
    t3 = time.perf_counter()
    return {"rows": data.n_ratings, "users": data.n_users, "items": data.n_items, "read_s": t1 - t0,
            "fit_s": t2 - t1, "report_s": t3 - t2, "total_s": t3 - t0, "segments": fit.scenario.audience.n_segments,
            "zipf": fit.scenario.catalogue.popularity_zipf,
            "distances": {c.quantity: round(c.distance, 4) for c in report.comparisons}}


def large_run(rows: int, folder: Path) -> dict:
    spec = SynthSpec(n_ratings=rows, n_items=5000, n_genres=18, n_segments=6, seed=1)
    t0 = time.perf_counter()
    ratings, items, _ = write_log(spec, folder, "ml-latest")
    written = time.perf_counter() - t0
    child = subprocess.run([sys.executable, __file__, "--child", str(ratings), str(items)], check=True,
                           capture_output=True, text=True)
    result = json.loads(child.stdout)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB
    return {**result, "generate_s": written, "file_mb": ratings.stat().st_size / 1e6, "peak_rss_mb": peak_kib / 1024}


def show(title: str, result: dict) -> None:
    print(f"[{title}]")
    for key, value in result.items():
        print(f"  {key:14s} {value:,.2f}" if isinstance(value, float) else f"  {key:14s} {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the large run (0 = skip it)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(timed_calibration(Path(args.child[0]), Path(args.child[1]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        ratings, items, _ = write_log(SynthSpec(n_ratings=100_000), Path(tmp) / "small", "ml-100k")
        show("100k ratings: read + fit + report (target <= 10 s)", timed_calibration(ratings, items))
        if args.rows:
            show(f"{args.rows:,} generated rows (target <= 120 s, peak RSS <= 2048 MB)",
                 large_run(args.rows, Path(tmp) / "large"))


if __name__ == "__main__":
    main()
