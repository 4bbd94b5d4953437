"""Training speed inside the running app against the headless trainer, on the same TrainConfig.

    .venv/bin/python benchmarks/bench_app_training.py [--steps 100000] [--repeats 2] [--json]

Headless: a ``TrainingJob`` started from this script, as ``python -m dqn_sim train`` runs one (its own
process, one torch thread). In the app: a ``streamlit run app.py`` server, chromium (playwright) opens the
Train page, sets the same TrainConfig, presses Start and keeps watching the live chart (the costliest
realistic case: every second the server redraws the page's status and chart, and the browser the chart)
until the run finishes. Both report the trainer's own steps/s (user-steps over time spent in
``Trainer.step``, the number the app shows at the end) and a wall-clock rate (steps over the whole run,
baselines included). Runs alternate headless / app so that a machine shared with other work loads both
alike; medians are reported. The target: app >= 80% of headless.

Chromium renders on the same machine here, where in use it runs on the viewer's computer. On a small machine
its rendering would take CPU from the trainer, so by default it runs at the lowest priority (``nice 19``):
the server still does all of its per-second work, the browser just does not compete for cores. Pass
``--browser-priority normal`` to measure with both on the same cores.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dqn_sim.config import AgentConfig, TrainConfig  # noqa: E402
from dqn_sim.presets import DEFAULT_PRESET, get_preset  # noqa: E402
from dqn_sim.train.job import TrainingJob  # noqa: E402
from tests.streamlit_server import (  # noqa: E402
    CHROMIUM,
    goto_page,
    launch_chromium,
    serve_app,
    start_training,
    wait_idle,
)

TARGET = 0.8
FORM_LABELS = {"total_steps": "Total steps", "n_envs": "Parallel users (n_envs)", "seed": "Seed"}
AVERAGE = re.compile(r"([\d,]+) steps/s on average")


def headless(train: TrainConfig) -> dict[str, float]:
    """A training job as ``python -m dqn_sim train`` runs one: its own process, one torch thread, no viewer."""
    t0 = time.perf_counter()
    job = TrainingJob(get_preset(DEFAULT_PRESET), AgentConfig(), train).start()
    job.join()
    return {"sps": job.snapshot().summary["sps"], "wall_sps": train.total_steps / (time.perf_counter() - t0)}


def in_app(browser, url: str, train: TrainConfig) -> dict[str, float]:
    page = browser.new_context(viewport={"width": 1440, "height": 1800}).new_page()
    page.set_default_timeout(600_000)
    page.goto(url)
    wait_idle(page)
    goto_page(page, "Train")
    t0 = time.perf_counter()
    start_training(page, {label: getattr(train, name) for name, label in FORM_LABELS.items()})
    done = page.get_by_test_id("stMain").get_by_text(AVERAGE)
    done.wait_for()
    wall = time.perf_counter() - t0
    sps = float(AVERAGE.search(done.inner_text()).group(1).replace(",", ""))
    page.context.close()
    return {"sps": sps, "wall_sps": train.total_steps / wall}


def niced_chromium(folder: Path) -> Path:
    """A launcher that runs chromium at the lowest CPU priority."""
    launcher = folder / "chromium-nice"
    launcher.write_text(f'#!/bin/sh\nexec nice -n 19 {CHROMIUM} "$@"\n')
    launcher.chmod(0o755)
    return launcher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--browser-priority", choices=("low", "normal"), default="low",
                        help="CPU priority of chromium (default low: nice 19)")
    parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    args = parser.parse_args()
    train = TrainConfig(total_steps=args.steps)  # the form's other fields keep these same defaults
    runs: dict[str, list[dict[str, float]]] = {"headless": [], "app": []}
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as home, serve_app(Path(home), Path(home) / "server.log") as url, \
            sync_playwright() as playwright:
        executable = niced_chromium(Path(home)) if args.browser_priority == "low" else CHROMIUM
        browser = launch_chromium(playwright, executable)
        for i in range(args.repeats):
            for mode in ("headless", "app"):
                result = headless(train) if mode == "headless" else in_app(browser, url, train)
                runs[mode].append(result)
                if not args.json:
                    print(f"run {i + 1} {mode:>8}: {result['sps']:8,.0f} steps/s "
                          f"(wall clock {result['wall_sps']:,.0f})", file=sys.stderr)
        browser.close()
    med = {mode: {k: statistics.median(r[k] for r in rs) for k in ("sps", "wall_sps")} for mode, rs in runs.items()}
    report = {
        "preset": DEFAULT_PRESET, "total_steps": args.steps, "repeats": args.repeats,
        "browser_priority": args.browser_priority,
        "headless_sps": med["headless"]["sps"], "app_sps": med["app"]["sps"],
        "ratio": med["app"]["sps"] / med["headless"]["sps"],
        "wall_ratio": med["app"]["wall_sps"] / med["headless"]["wall_sps"], "target": TARGET, "runs": runs,
    }
    if args.json:
        print(json.dumps(report))
        return
    verdict = "meets" if report["ratio"] >= TARGET else "misses"
    print(f"headless {report['headless_sps']:,.0f} steps/s, in the app {report['app_sps']:,.0f} steps/s: "
          f"ratio {report['ratio']:.2f} ({verdict} the {TARGET:.0%} target; wall clock ratio "
          f"{report['wall_ratio']:.2f})")


if __name__ == "__main__":
    main()
