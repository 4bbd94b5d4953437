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


def sim_steps_per_s(preset: str, batch: int, min_seconds: float = 1.0, seed: int = 0) -> float:
    """User-steps per second of ``VecRecEnv.step`` alone, under uniformly random slates drawn outside the
    timed part (from the candidates, so no users x items mask is built unless the scenario needs one)."""
    env = VecRecEnv(get_preset(preset), batch, seed)
    rng = np.random.default_rng(seed)
    busy, steps = 0.0, 0
    while busy < min_seconds:
        slate = random_env_slates(env, rng)
        t0 = time.perf_counter()
        env.step(slate)
        busy += time.perf_counter() - t0
        steps += batch
    return steps / busy


def reference_steps_per_s(min_seconds: float = 1.0, seed: int = 0) -> float:
    """User-steps per second of the one-user-at-a-time recsim-ie implementation."""
    ref = ReferenceRecSimIE(get_preset("recsim-ie"), seed)
    busy, steps = 0.0, 0
    while busy < min_seconds:
        slate = ref.random_slate()
        t0 = time.perf_counter()
        _, done = ref.step(slate)
        if done:
            ref.reset()
        busy += time.perf_counter() - t0
        steps += 1
    return steps / busy


def simulator_benchmark(min_seconds: float = 1.0, progress: Callable[[float], None] | None = None) -> dict:
    """Vectorised user-steps/s on video and recsim-ie at several batch sizes, and the ratio to the reference."""
    out: dict = {"reference_recsim_ie_steps_per_s": reference_steps_per_s(min_seconds)}
    jobs = [(p, b) for p in ("video", "recsim-ie") for b in SIM_BATCHES]
    for i, (preset, batch) in enumerate(jobs):
        rate = sim_steps_per_s(preset, batch, min_seconds)
        out[f"{preset}_batch{batch}_steps_per_s"] = rate
        if preset == "recsim-ie":
            out[f"recsim-ie_batch{batch}_vs_reference"] = rate / out["reference_recsim_ie_steps_per_s"]
        if progress:
            progress((i + 1) / len(jobs))
    return out


def training_benchmark(
    preset: str = "video", budget_s: float = 90.0, seed: int = 0, progress: Callable[[float], None] | None = None
) -> dict:
    """The full loop (act, store, learn, evaluate) with the preset's default hyperparameters.

    Trains the default number of steps (or until ``budget_s``), evaluating every 10,000 steps, and reports
    env user-steps/s, gradient updates/s, and the wall time until the DQN's evaluation return first exceeds
    the best baseline's (mean above mean, and lower 95% bound above the baseline's upper bound).
    """
    import torch

    from dqn_sim.config import TrainConfig
    from dqn_sim.presets import preset_agent
    from dqn_sim.train.trainer import Trainer

    torch.set_num_threads(1)  # as in the training thread of the app
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
