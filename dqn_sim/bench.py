"""Throughput benchmarks: the simulator against a one-at-a-time reference, and the full training loop.

Absolute numbers drift on shared machines, so every figure comes with a ratio to a reference measured
in the same run (the one-user-at-a-time RecSim implementation, or the best baseline's return).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from dqn_sim.agents.policy import random_env_slates
from dqn_sim.presets import get_preset
from dqn_sim.sim.env import VecRecEnv
from dqn_sim.sim.reference import ReferenceRecSimIE

SIM_BATCHES = (1, 64, 4096)


def _vec_step(preset: str, batch: int, seed: int = 0) -> Callable[[], float]:
    """One timed ``VecRecEnv.step`` per call, under uniformly random slates drawn outside the timed part
    (from the candidates, so no users x items mask is built unless the scenario needs one)."""
    env = VecRecEnv(get_preset(preset), batch, seed)
    rng = np.random.default_rng(seed)

    def timed() -> float:
        slate = random_env_slates(env, rng)
        t0 = time.perf_counter()
        env.step(slate)
        return time.perf_counter() - t0

    return timed


def _reference_step(seed: int = 0) -> Callable[[], float]:
    """One timed step of the one-user-at-a-time recsim-ie implementation per call."""
    ref = ReferenceRecSimIE(get_preset("recsim-ie"), seed)

    def timed() -> float:
        slate = ref.random_slate()
        t0 = time.perf_counter()
        _, done = ref.step(slate)
        if done:
            ref.reset()
        return time.perf_counter() - t0

    return timed


def _rate(timed_step: Callable[[], float], users_per_step: int, seconds: float) -> float:
    busy, steps = 0.0, 0
    while busy < seconds:
        busy += timed_step()
        steps += users_per_step
    return steps / busy


def simulator_benchmark(
    min_seconds: float = 1.0, rounds: int = 4, progress: Callable[[float], None] | None = None
) -> dict:
    """Vectorised user-steps/s on video and recsim-ie at several batch sizes, and the ratio to the reference.

    Every configuration, the reference included, is measured in ``rounds`` interleaved rounds of
    ``min_seconds / rounds`` and keeps its best round (timeit's best of repeats): on a shared machine a burst
    of load from elsewhere then costs one round of each, not one side of the ratio.
    """
    meters = {"reference_recsim_ie": (_reference_step(), 1)}
    meters |= {f"{p}_batch{b}": (_vec_step(p, b), b) for p in ("video", "recsim-ie") for b in SIM_BATCHES}
    best = dict.fromkeys(meters, 0.0)
    for r in range(rounds):
        for i, (name, (timed_step, users)) in enumerate(meters.items()):
            best[name] = max(best[name], _rate(timed_step, users, min_seconds / rounds))
            if progress:
                progress((r * len(meters) + i + 1) / (rounds * len(meters)))
    out = {f"{name}_steps_per_s": rate for name, rate in best.items()}
    for b in SIM_BATCHES:
        out[f"recsim-ie_batch{b}_vs_reference"] = best[f"recsim-ie_batch{b}"] / best["reference_recsim_ie"]
    return out


def training_benchmark(
    preset: str = "video", budget_s: float = 90.0, seed: int = 0, progress: Callable[[float], None] | None = None
) -> dict:
    """The full loop (act, store, learn, evaluate) with the preset's default hyperparameters.

    Trains the default number of steps (or until ``budget_s``), evaluating every 10,000 steps, and reports
    env user-steps/s, gradient updates/s, and the wall time until the DQN's evaluation return first exceeds
    the best baseline's (mean above mean, and lower 95% bound above the baseline's upper bound).
    """
    from dqn_sim.config import TrainConfig
    from dqn_sim.presets import preset_agent
    from dqn_sim.train.threads import one_thread
    from dqn_sim.train.trainer import Trainer

    one_thread()  # as in a training process of the app and the CLI
    trainer = Trainer(get_preset(preset), preset_agent(preset), TrainConfig(eval_every=10_000, seed=seed))
    trainer.evaluate_baselines()
    while not trainer.done and trainer.wall_time < budget_s:
        trainer.step()
        if progress:
            progress(max(trainer.progress, trainer.wall_time / budget_s))
    if trainer.evals[-1]["step"] != trainer.step_count:
        trainer.evaluate_agent()
    s = trainer.summary()
    return {
        "preset": preset,
        "steps": s["steps"],
        "wall_s": s["wall_time"],
        "steps_per_s": s["sps"],
        "updates_per_s": s["updates_per_s"],
        "best_baseline": s["best_baseline"],
        "best_baseline_return": s["best_baseline_return"],
        "dqn_final_return": s["dqn_return"],
        "dqn_vs_best_baseline": s["dqn_return"] / s["best_baseline_return"],
        "seconds_to_beat_best_baseline": s["time_to_beat_best_baseline_s"],
        "seconds_to_beat_best_baseline_ci": s["time_to_beat_best_baseline_ci_s"],
    }
