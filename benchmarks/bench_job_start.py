"""Job start (start -> the training process runs -> its first step) as the studio sees it, before and after
training processes stopped importing the parent's main module.

Under ``streamlit run`` the main module is app.py; multiprocessing prepares every child by running the parent's
main module again, so each job ran the studio's script in its training process (imports, set_page_config, …).
This installs app.py as ``__main__`` the way Streamlit does, then starts the same small job with the plain
forkserver process (before) and with ``EngineProcess`` (after), interleaved, and prints the medians and their ratio.

    python benchmarks/bench_job_start.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dqn_sim.config import AgentConfig, TrainConfig  # noqa: E402
from dqn_sim.presets import get_preset  # noqa: E402
from dqn_sim.train import job as job_module  # noqa: E402


def as_streamlit_main() -> None:
    """Make app.py the main module, as ``streamlit run app.py`` does (its code is not run here)."""
    main = types.ModuleType("__main__")
    main.__file__ = str(ROOT / "app.py")
    main.__spec__ = None
    sys.modules["__main__"] = main


def start_once(process_class: type) -> tuple[float, float]:
    """Seconds from start() to the Started report, and to the first reported step."""
    original = job_module.EngineProcess
    job_module.EngineProcess = process_class
    try:
        scenario = get_preset("video").with_overrides({"audience.n_users": 500})
        train = TrainConfig(total_steps=2_000, n_envs=16, learning_starts=64, log_every=256, eval_every=10**9,
                            eval_episodes=8)
        t0 = time.monotonic()
        job = job_module.TrainingJob(scenario, AgentConfig(hidden_sizes=[32], batch_size=32), train).start()
        while job.status().step == 0 and not job.join(0):
            time.sleep(0.005)
        first_step = time.monotonic() - t0
        job.stop()
        job.join(60)
        return job.status().startup_s or float("nan"), first_step
    finally:
        job_module.EngineProcess = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    as_streamlit_main()
    start_once(job_module.EngineProcess)  # starts the fork server once, outside the measurement
    before: list[tuple[float, float]] = []
    after: list[tuple[float, float]] = []
    for _ in range(args.repeats):
        before.append(start_once(job_module.PROCESSES.Process))
        after.append(start_once(job_module.EngineProcess))
    for label, rows in (("imports app.py (before)", before), ("engine only (after)", after)):
        print(f"{label:24s} start -> running {statistics.median(r[0] for r in rows):.3f} s, "
              f"start -> first step {statistics.median(r[1] for r in rows):.3f} s (medians of {args.repeats})")
    ratio = statistics.median(r[1] for r in after) / statistics.median(r[1] for r in before)
    print(f"after/before, start -> first step: {ratio:.2f}")


if __name__ == "__main__":
    main()
