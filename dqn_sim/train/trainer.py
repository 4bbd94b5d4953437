"""The training loop: collect from a batch of simulated users, store, learn, evaluate on held-out seeds.

The loop trains one learner (``TrainConfig.algo``: the DQN or a rival, each a ``dqn_sim.agents.learner.Learner``),
so every learner meets the same users, budget and seeds; evaluation rows name it, and so do the summary's keys.

One ``Trainer.step()`` advances every user of the batch by one recommendation; the caller (a ``TrainingJob``'s
training process, or a script) decides when to stop, pause or log. Metrics are plain dict rows so any reader
(CSV, SQLite store, dashboards) can take them without knowing the trainer.

Evaluations during training run on validation users and choose the checkpoint kept (``TrainConfig.keep``);
``finish()`` judges that checkpoint once, beside every baseline, on test users: the run's result (see
``dqn_sim.splits``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.signal import lfilter

from dqn_sim.agents.learner import Learner
from dqn_sim.agents.policy import Policy
from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.policies import evaluated_in_training, learner_class, rivals
from dqn_sim.sim.env import VecRecEnv
from dqn_sim.splits import TEST, VALIDATION, final_rows, validation_rows
from dqn_sim.train.evaluate import EvalResult, evaluate_baseline, evaluate_policy
from dqn_sim.train.sessions import interval_columns, session_metrics
from dqn_sim.vocab import EVALUATION, SEGMENTS

EVAL_SEED_OFFSET = 1_000_003  # validation users: evaluation seeds never coincide with training seeds
TEST_SEED_OFFSET = 4_000_037  # test users: neither training, validation nor a baseline's warm-up users
TRACKED_STEPS = 512  # per-episode steps kept to compare Q estimates with realised returns


def eval_rows(step: int, wall_time: float, result: EvalResult, split: str = VALIDATION) -> dict:
    return EVALUATION.row({"step": step, "wall_time": wall_time, "split": split, **interval_columns(result.summary())})


def segment_rows(result: EvalResult, names: list[str]) -> list[dict]:
    """Per-segment metrics with 95% intervals, from one evaluation's sessions."""
    rows = []
    for s, name in enumerate(names):
        part = result.sessions.subset(result.sessions.segment == s)
        if part.size:
            rows.append(SEGMENTS.row({"policy": result.policy, "segment": s, "segment_name": name,
                                      "episodes": part.size, **interval_columns(session_metrics(part))}))
    return rows


def _time_to_beat(validation: pd.DataFrame, learner: str) -> dict:
    """Wall time until the learner's validation return first beat the best rival's on the same users: mean above
    mean, and 95% intervals apart (None: not yet). Nothing without a rival evaluated."""
    base = validation[validation.policy.isin(rivals())]
    if not len(base):
        return {}
    best = base.loc[base.return_mean.idxmax()]
    mine = validation[validation.policy == learner]
    ahead = mine[mine.return_mean > best.return_mean]
    clear = mine[mine.return_lo > best.return_hi]
    return {"time_to_beat_best_baseline_s": float(ahead.wall_time.iloc[0]) if len(ahead) else None,
            "time_to_beat_best_baseline_ci_s": float(clear.wall_time.iloc[0]) if len(clear) else None}


@dataclass
class Kept:
    """The checkpoint the run reports: where it was taken, its validation return, and its weights (None while
    they are the agent's own, as when keeping the last)."""

    step: int
    validation_return: float
    weights: dict[str, torch.Tensor] | None = None


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
    """A learner's training on a vectorised scenario, with baselines evaluated on the same held-out seeds."""

    def __init__(
        self, scenario: ScenarioConfig, agent_cfg: AgentConfig, train_cfg: TrainConfig,
        init_from: Path | None = None,
    ) -> None:
        """``init_from``: a checkpoint whose weights start this run (resume or fine-tune a stored run)."""
        self.scenario, self.agent_cfg, self.cfg = scenario, agent_cfg, train_cfg
        seed = train_cfg.seed
        self.env = VecRecEnv(scenario, train_cfg.n_envs, seed)
        self.learner: Learner = learner_class(train_cfg.algo).build(self.env, scenario, agent_cfg, train_cfg)
        if init_from is not None:
            self.learner.warm_start(init_from)
        self.rng = np.random.default_rng(seed + 1)
        self.validation_seed = seed + EVAL_SEED_OFFSET
        self.test_seed = seed + TEST_SEED_OFFSET
        self.step_count = 0  # user-steps
        self.batch_steps = 0
        self.episodes = 0
        self.updates = 0
        self.epsilon = self.learner.epsilon(0, train_cfg.total_steps)
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
        self.kept: Kept | None = None
        self._validations = 0  # of the agent
        self._last_eval_step: int | None = None
        self._test_returns: list[float] = []  # the kept checkpoint's, per test session
        self._test_survival: dict[str, list[float]] = {}  # per policy: share of test sessions running at each step

    @property
    def agent(self) -> Policy:
        """The policy being trained, as evaluations act with it."""
        return self.learner.policy

    @property
    def done(self) -> bool:
        return self.step_count >= self.cfg.total_steps

    @property
    def progress(self) -> float:
        return min(1.0, self.step_count / self.cfg.total_steps)

    # ------------------------------------------------------------------ baselines and evaluation
    def evaluate_baselines(self) -> None:
        """Judge every baseline once on the validation users the learner's curve is evaluated on."""
        for name in evaluated_in_training():
            result = evaluate_baseline(name, self.scenario, self.cfg.eval_episodes, self.validation_seed)
            self.evals.append(eval_rows(0, self.wall_time, result))

    def evaluate_agent(self) -> EvalResult:
        """Evaluate the learner on the validation users, keeping its weights if they are the ones to report."""
        result = evaluate_policy(self.agent, self.scenario, self.cfg.eval_episodes, self.validation_seed,
                                 learn=False)
        self.evals.append(eval_rows(self.step_count, self.wall_time, result))
        self._validations += 1
        self._last_eval_step = self.step_count
        if self.cfg.keep == "last":
            self.kept = Kept(self.step_count, result.return_mean)
        elif self.kept is None or result.return_mean > self.kept.validation_return:
            self.kept = Kept(self.step_count, result.return_mean, self.learner.copy_weights())
        return result

    def finish(self) -> dict:
        """Validate the final weights, restore the kept checkpoint, and judge it once beside every baseline on the
        test users; per-segment results come from that test, and so does the summary."""
        if self._last_eval_step != self.step_count:
            self.evaluate_agent()
        if self.kept is not None and self.kept.weights is not None:
            self.learner.load_weights(self.kept.weights)
        episodes, seed = self.cfg.eval_episodes, self.test_seed
        results = [evaluate_policy(self.agent, self.scenario, episodes, seed, learn=False)]
        results += [evaluate_baseline(name, self.scenario, episodes, seed) for name in evaluated_in_training()]
        self.evals += [eval_rows(self.step_count, self.wall_time, r, TEST) for r in results]
        self._test_returns = list(results[0].returns)
        self._test_survival = {r.policy: r.survival for r in results}
        self.segments = [row for r in results for row in segment_rows(r, self.env.audience.names)]
        return self.summary()

    def summary(self) -> dict:
        """The run's result (its test evaluation once finished, else the latest validation), which checkpoint it
        comes from (``kept``, present once the test is done: see ``splits.has_test_result``), and when the learner
        first overtook the best baseline on the validation users. The learner's keys carry its name: ``dqn_return``,
        ``linucb_return``…"""
        learner = self.cfg.algo
        evals = pd.DataFrame(self.evals, columns=EVALUATION.names)
        final = final_rows(evals)
        mine, others = final[final.policy == learner], final[final.policy != learner]
        out: dict = {"steps": self.step_count, "episodes": self.episodes, "updates": self.updates,
                     "wall_time": self.wall_time}
        for _, row in others.iterrows():
            out[f"{row.policy}_return"] = row.return_mean
            out[f"{row.policy}_ctr"] = row.ctr
        if len(mine):
            row = mine.iloc[-1]
            out.update({f"{learner}_return": row.return_mean, f"{learner}_return_ci": [row.return_lo, row.return_hi],
                        f"{learner}_ctr": row.ctr})
        base = others[others.policy.isin(rivals())]
        if len(base):
            best = base.loc[base.return_mean.idxmax()]
            out.update(best_baseline=best.policy, best_baseline_return=best.return_mean)
        out.update(_time_to_beat(validation_rows(evals), learner))
        if self._test_returns and self.kept is not None:
            out["kept"] = {"rule": self.cfg.keep, "step": self.kept.step,
                           "validation_return": self.kept.validation_return, "evaluations": self._validations}
            out[f"{learner}_test_returns"] = [round(r, 6) for r in self._test_returns]
            out["survival"] = self._test_survival
        if self.metrics:
            out["sps"] = self.step_count / max(self.wall_time, 1e-9)
            out["updates_per_s"] = self.updates / max(self.wall_time, 1e-9)
        return out

    # ------------------------------------------------------------------ one batch step
    def step(self) -> None:
        """Advance every simulated user one step: act, store, learn, and log/evaluate when due."""
        t0 = time.perf_counter()
        cfg, env = self.cfg, self.env
        self.epsilon = self.learner.epsilon(self.step_count, cfg.total_steps)
        obs_UO, mask_UI = env.obs_UO, env.mask_UI
        slate_US, q_max_U = self.learner.act_explore(obs_UO, mask_UI, self.epsilon, self.rng)
        t_U = env.t_U.copy()
        result = env.step(slate_US)
        self.learner.store(obs_UO, slate_US, result)

        self._track(t_U, q_max_U, result)
        self.step_count += env.n_envs
        self.batch_steps += 1
        learning = self.step_count >= cfg.learning_starts and self.learner.can_learn()
        if learning and self.batch_steps % cfg.train_every == 0:
            for _ in range(cfg.updates_per_train):
                loss = self.learner.learn(self.progress)
                if loss is None:  # nothing new since the last update (a bandit's model is already solved)
                    continue
                self.updates += 1
                self._window.updates += 1
                self._window.losses.append(loss)
                self.last_loss = loss
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
