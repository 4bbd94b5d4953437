"""The training loop: collect from a batch of simulated users, store, learn, evaluate on held-out seeds.

One ``Trainer.step()`` advances every user of the batch by one recommendation; the caller (a ``TrainingJob``'s
training process, or a script) decides when to stop, pause or log. Metrics are plain dict rows so any reader
(CSV, SQLite store, dashboards) can take them without knowing the trainer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from dqn_sim.agents.dqn import DQNAgent
from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.policies import evaluated_in_training, rivals
from dqn_sim.sim.env import VecRecEnv
from dqn_sim.stats import mean_ci
from dqn_sim.train.evaluate import EvalResult, evaluate_baseline, evaluate_policy
from dqn_sim.vocab import EVALUATION

EVAL_SEED_OFFSET = 1_000_003  # held-out users: evaluation seeds never coincide with training seeds
TRACKED_STEPS = 512  # per-episode steps kept to compare Q estimates with realised returns


def eval_rows(step: int, wall_time: float, result: EvalResult) -> dict:
    return {
        "step": step, "wall_time": wall_time, "policy": result.policy, "return_mean": result.return_mean,
        "return_lo": result.return_ci[0], "return_hi": result.return_ci[1], "ctr": result.ctr,
        "ctr_lo": result.ctr_ci[0], "ctr_hi": result.ctr_ci[1], "episode_len_mean": result.episode_len_mean,
    }


def segment_rows(result: EvalResult, names: list[str]) -> list[dict]:
    """Per-segment mean return with 95% intervals, from one evaluation's episodes."""
    returns, segments = np.asarray(result.returns), np.asarray(result.segments)
    rows = []
    for s, name in enumerate(names):
        r = returns[segments == s]
        if r.size:
            m, lo, hi = mean_ci(r)
            rows.append({"policy": result.policy, "segment": s, "segment_name": name, "episodes": int(r.size),
                         "return_mean": m, "return_lo": lo, "return_hi": hi})
    return rows


@dataclass
class _Window:
    """Accumulators between two logging points."""

    returns: list[float] = field(default_factory=list)
    q: list[np.ndarray] = field(default_factory=list)
    g: list[np.ndarray] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    clicks: int = 0
    steps: int = 0
    updates: int = 0
    wall0: float = 0.0


class Trainer:
    """DQN training on a vectorised scenario, with baselines evaluated on the same held-out seeds."""

    def __init__(
        self, scenario: ScenarioConfig, agent_cfg: AgentConfig, train_cfg: TrainConfig,
        init_from: Path | None = None,
    ) -> None:
        """``init_from``: a checkpoint whose weights start this run (resume or fine-tune a stored run)."""
        self.scenario, self.agent_cfg, self.cfg = scenario, agent_cfg, train_cfg
        seed = train_cfg.seed
        self.env = VecRecEnv(scenario, train_cfg.n_envs, seed)
        self.agent = DQNAgent(
            obs_dim=self.env.obs_dim, n_items=self.env.n_items, item_features_IF=self.env.item_features_IF,
            slate_size=self.env.slate_size, config=agent_cfg, seed=seed,
            n_candidates=scenario.dynamics.n_candidates,
        )
        if init_from is not None:
            self.agent.warm_start(init_from)
        self.buffer = self.agent.make_buffer()
        self.nstep = self.agent.make_nstep(train_cfg.n_envs)
        self.rng = np.random.default_rng(seed + 1)
        self.eval_seed = seed + EVAL_SEED_OFFSET
        self.step_count = 0  # user-steps
        self.batch_steps = 0
        self.episodes = 0
        self.updates = 0
        self.epsilon = agent_cfg.eps_start
        self.last_loss = float("nan")
        self.wall_time = 0.0  # seconds spent inside step(), pauses excluded
        self.metrics: list[dict] = []
        self.evals: list[dict] = []
        self.segments: list[dict] = []
        self._next_log = train_cfg.log_every
        self._next_eval = train_cfg.eval_every
        self._window = _Window(wall0=self.wall_time)
        u = train_cfg.n_envs
        self._traj_q = np.zeros((u, TRACKED_STEPS), dtype=np.float32)
        self._traj_r = np.zeros((u, TRACKED_STEPS), dtype=np.float32)
        self._baseline_results: dict[str, EvalResult] = {}
        self._last_agent_eval: tuple[int, EvalResult] | None = None  # (step, result)

    @property
    def done(self) -> bool:
        return self.step_count >= self.cfg.total_steps

    @property
    def progress(self) -> float:
        return min(1.0, self.step_count / self.cfg.total_steps)

    # ------------------------------------------------------------------ baselines and evaluation
    def evaluate_baselines(self) -> None:
        """Judge every baseline once on the held-out seeds the DQN is evaluated on."""
        for name in evaluated_in_training():
            result = evaluate_baseline(name, self.scenario, self.cfg.eval_episodes, self.eval_seed)
            self._baseline_results[name] = result
            self.evals.append(eval_rows(0, self.wall_time, result))

    def evaluate_agent(self) -> EvalResult:
        result = evaluate_policy(self.agent, self.scenario, self.cfg.eval_episodes, self.eval_seed, learn=False)
        self.evals.append(eval_rows(self.step_count, self.wall_time, result))
        self._last_agent_eval = (self.step_count, result)
        return result

    def finish(self) -> dict:
        """Final evaluation, per-segment results and the run summary."""
        last = self._last_agent_eval
        final = last[1] if last is not None and last[0] == self.step_count else self.evaluate_agent()
        names = self.env.audience.names
        self.segments = segment_rows(final, names)
        for result in self._baseline_results.values():
            self.segments += segment_rows(result, names)
        return self.summary()

    def summary(self) -> dict:
        evals = pd.DataFrame(self.evals, columns=EVALUATION.names)
        dqn = evals[evals.policy == "dqn"]
        others = evals[evals.policy != "dqn"]
        base = others[others.policy.isin(rivals())]
        out: dict = {"steps": self.step_count, "episodes": self.episodes, "updates": self.updates,
                     "wall_time": self.wall_time}
        for _, row in others.iterrows():
            out[f"{row.policy}_return"] = row.return_mean
        if len(dqn):
            last = dqn.iloc[-1]
            out.update(dqn_return=last.return_mean, dqn_return_ci=[last.return_lo, last.return_hi],
                       dqn_ctr=last.ctr)
        if len(base):
            best = base.loc[base.return_mean.idxmax()]
            out.update(best_baseline=best.policy, best_baseline_return=best.return_mean)
            ahead = dqn[dqn.return_mean > best.return_mean]  # mean above mean
            clear = dqn[dqn.return_lo > best.return_hi]  # 95% intervals apart
            out["time_to_beat_best_baseline_s"] = float(ahead.wall_time.iloc[0]) if len(ahead) else None
            out["time_to_beat_best_baseline_ci_s"] = float(clear.wall_time.iloc[0]) if len(clear) else None
        if self.metrics:
            out["sps"] = self.step_count / max(self.wall_time, 1e-9)
            out["updates_per_s"] = self.updates / max(self.wall_time, 1e-9)
        return out

    # ------------------------------------------------------------------ one batch step
    def step(self) -> None:
        """Advance every simulated user one step: act, store, learn, and log/evaluate when due."""
        t0 = time.perf_counter()
        cfg, env = self.cfg, self.env
        self.epsilon = self.agent.epsilon(self.step_count, cfg.total_steps)
        obs_UO, mask_UI = env.obs_UO, env.mask_UI
        slate_US, q_max_U = self.agent.act_explore(obs_UO, mask_UI, self.epsilon, self.rng)
        t_U = env.t_U.copy()
        result = env.step(slate_US)

        done_U = result.done_U
        next_obs = np.where(done_U[:, None], result.final_obs_UO, result.obs_UO)
        next_mask = np.where(done_U[:, None], result.final_mask_UI, result.mask_UI)
        clicked_pos_U = np.where(
            result.clicked_item_U[:, None] == slate_US, np.arange(env.slate_size)[None, :], env.slate_size
        ).min(axis=1)
        clicked_pos_U = np.where(clicked_pos_U < env.slate_size, clicked_pos_U, -1)
        ready = self.nstep.push(obs_UO, slate_US, result.reward_U, clicked_pos_U, next_obs, next_mask,
                                result.terminated_U, result.truncated_U)
        if len(ready.obs_BO):
            self.buffer.add(*ready)

        self._track(t_U, q_max_U, result)
        self.step_count += env.n_envs
        self.batch_steps += 1
        learning = self.step_count >= cfg.learning_starts and len(self.buffer) >= self.agent_cfg.batch_size
        if learning and self.batch_steps % cfg.train_every == 0:
            for _ in range(cfg.updates_per_train):
                stats = self.agent.learn(self.agent.sample_batch(self.progress), self.progress)
                self.updates += 1
                self._window.updates += 1
                self._window.losses.append(stats["loss"])
                self.last_loss = stats["loss"]
        if self.step_count >= self._next_eval:
            self.wall_time += time.perf_counter() - t0
            t0 = time.perf_counter()
            self.evaluate_agent()
            self._next_eval += cfg.eval_every
        self.wall_time += time.perf_counter() - t0
        if self.step_count >= self._next_log or self.done:
            self._log()
            self._next_log += cfg.log_every

    def _track(self, t_U: np.ndarray, qmax_U: np.ndarray, result) -> None:
        """Keep each episode's Q estimates and rewards; on its end, compare Q with the realised return."""
        w = self._window
        rows = np.arange(t_U.shape[0])
        keep = t_U < TRACKED_STEPS
        self._traj_q[rows[keep], t_U[keep]] = qmax_U[keep]
        self._traj_r[rows[keep], t_U[keep]] = result.reward_U[keep]
        w.clicks += int((result.clicked_item_U >= 0).sum())
        w.steps += t_U.shape[0]
        gamma = self.agent_cfg.gamma
        for u in np.flatnonzero(result.done_U):
            n = min(int(result.episode_len_U[u]), TRACKED_STEPS)
            r = self._traj_r[u, :n]
            g = lfilter([1.0], [1.0, -gamma], r[::-1])[::-1] if gamma > 0 else r.copy()
            w.q.append(self._traj_q[u, :n].copy())
            w.g.append(np.asarray(g, dtype=np.float32))
            w.returns.append(float(result.episode_return_U[u]))
            self.episodes += 1

    def _log(self) -> None:
        w = self._window
        dt = max(self.wall_time - w.wall0, 1e-9)
        q = np.concatenate(w.q) if w.q else np.array([])
        g = np.concatenate(w.g) if w.g else np.array([])
        self.metrics.append({
            "step": self.step_count,
            "episode": self.episodes,
            "episode_return": float(np.mean(w.returns)) if w.returns else float("nan"),
            "ctr": w.clicks / max(w.steps, 1),
            "q_mean": float(q.mean()) if q.size else float("nan"),
            "disc_return": float(g.mean()) if g.size else float("nan"),
            "epsilon": self.epsilon,
            "loss": float(np.mean(w.losses)) if w.losses else float("nan"),
            "sps": w.steps / dt,
            "updates_per_s": w.updates / dt,
            "wall_time": self.wall_time,
        })
        self._window = _Window(wall0=self.wall_time)
