"""Our DQN trainer against Stable-Baselines3's DQN on the same Gymnasium env (`video`).

SB3 trains on `dqn_sim.make_env("video")` for a wall-clock budget; our trainer then trains for a fifth of
SB3's wall time. Both final policies are evaluated by the same evaluator on the same held-out users.
Prints the ratios. Needs `pip install -r benchmarks/requirements.txt` (stable-baselines3).

    python benchmarks/bench_sb3.py [--sb3-seconds 300]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback

from dqn_sim.agents.policy import Policy, top_k_masked
from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.presets import get_preset
from dqn_sim.sim.env import RecEnv
from dqn_sim.train.evaluate import evaluate_policy
from dqn_sim.train.trainer import EVAL_SEED_OFFSET, Trainer


class _Budget(BaseCallback):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds, self.t0 = seconds, time.perf_counter()

    def _on_step(self) -> bool:
        return time.perf_counter() - self.t0 < self.seconds


class SB3Policy(Policy):
    """Greedy actions of an SB3 model, batched over the evaluator's users."""

    name = "sb3-dqn"

    def __init__(self, model: DQN) -> None:
        self.model = model

    def act(self, env):
        with torch.no_grad():
            q = self.model.q_net(torch.as_tensor(env.obs_UO)).numpy()
        return top_k_masked(q, env.mask_UI, env.slate_size)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sb3-seconds", type=float, default=300.0)
    p.add_argument("--episodes", type=int, default=500)
    args = p.parse_args()
    torch.set_num_threads(1)
    scenario = get_preset("video")
    eval_seed = EVAL_SEED_OFFSET

    t0 = time.perf_counter()
    model = DQN("MlpPolicy", RecEnv(scenario, seed=0), seed=0, verbose=0, device="cpu")
    model.learn(total_timesteps=10**9, callback=_Budget(args.sb3_seconds))
    sb3_wall = time.perf_counter() - t0
    sb3 = evaluate_policy(SB3Policy(model), scenario, args.episodes, eval_seed, learn=False)

    ours_budget = sb3_wall / 5
    trainer = Trainer(scenario, AgentConfig(), TrainConfig(total_steps=10**9, eval_every=10**9, seed=0))
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < ours_budget:
        trainer.step()
    ours = evaluate_policy(trainer.agent, scenario, args.episodes, eval_seed, learn=False)
    print(json.dumps({
        "sb3_wall_s": sb3_wall, "sb3_steps": int(model.num_timesteps), "sb3_return": sb3.return_mean,
        "sb3_return_ci": sb3.return_ci, "ours_wall_s": ours_budget, "ours_steps": trainer.step_count,
        "ours_return": ours.return_mean, "ours_return_ci": ours.return_ci,
        "ours_vs_sb3_return": ours.return_mean / sb3.return_mean,
        "ours_wall_fraction_of_sb3": ours_budget / sb3_wall,
        "steps_per_s_ratio": (trainer.step_count / ours_budget) / (model.num_timesteps / sb3_wall),
    }, indent=2, default=lambda x: float(np.asarray(x))))


if __name__ == "__main__":
    main()
