"""Our DQN trainer against Stable-Baselines3's DQN (its defaults) on the same Gymnasium env (`video`).

SB3 trains on `dqn_sim.make_env("video")` for a wall-clock budget; our trainer then trains with its defaults,
evaluated every 10,000 steps on the same held-out users as SB3's final policy. Prints when ours first reached
SB3's final return (as a share of SB3's wall time) and both final returns.
Needs `pip install -r benchmarks/requirements.txt` (stable-baselines3).

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
from dqn_sim.config import TrainConfig
from dqn_sim.presets import get_preset, preset_agent
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

    trainer = Trainer(scenario, preset_agent("video"),
                      TrainConfig(eval_every=10_000, eval_episodes=args.episodes, seed=0))
    while not trainer.done:
        trainer.step()
    ours = [e for e in trainer.evals if e["policy"] == "dqn"]
    reached = next((e for e in ours if e["return_mean"] >= sb3.return_mean), None)
    print(json.dumps({
        "sb3_wall_s": sb3_wall, "sb3_steps": int(model.num_timesteps), "sb3_return": sb3.return_mean,
        "sb3_return_ci": sb3.return_ci,
        "ours_wall_s": trainer.wall_time, "ours_steps": trainer.step_count,
        "ours_final_return": ours[-1]["return_mean"], "ours_final_return_ci": [ours[-1]["return_lo"],
                                                                               ours[-1]["return_hi"]],
        "ours_best_eval_return": max(e["return_mean"] for e in ours),
        "ours_seconds_to_reach_sb3_final": reached["wall_time"] if reached else None,
        "ours_time_to_sb3_final_as_share_of_sb3_wall": reached["wall_time"] / sb3_wall if reached else None,
        "ours_final_vs_sb3_final": ours[-1]["return_mean"] / sb3.return_mean,
        "steps_per_s_ratio": (trainer.step_count / trainer.wall_time) / (model.num_timesteps / sb3_wall),
    }, indent=2, default=lambda x: float(np.asarray(x))))


if __name__ == "__main__":
    main()
