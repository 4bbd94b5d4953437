"""The recommendation environment: a vectorised core (a batch of users as numpy arrays) and a Gymnasium view.

``VecRecEnv`` steps ``n_envs`` user sessions at once; it is what the trainer and the evaluator use.
``RecEnv`` is the one-user ``gymnasium.Env`` (passes ``check_env``) for interoperability, e.g. SB3.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from dqn_sim import memory
from dqn_sim.config import ScenarioConfig
from dqn_sim.sim.audience import Audience, build_audience
from dqn_sim.sim.cache import ByteBoundedCache
from dqn_sim.sim.candidates import Candidates, CandidateSampler, contains, mask_of
from dqn_sim.sim.catalogue import Catalogue, build_catalogue
from dqn_sim.sim.dynamics import (
    cells,
    choice_probs,
    drift_clicked_topic,
    drift_interests,
    item_scores,
    purchase_prob,
    sample_choice,
)

HISTORY_DECAY = 0.8  # retention of the clicked-topic history the recommender observes
WORLD_CACHE_SHARE = 0.25  # of the memory limit (``dqn_sim.memory``): what cached worlds may hold together


@dataclass(frozen=True)
class World:
    """Catalogue + audience of a scenario, drawn from its ``world_seed`` (shared by train and eval envs)."""

    scenario: ScenarioConfig
    catalogue: Catalogue
    audience: Audience

    @property
    def nbytes(self) -> int:
        """Bytes of the world's arrays (what the world cache counts)."""
        values = (*vars(self.catalogue).values(), *vars(self.audience).values())
        return sum(v.nbytes for v in values if isinstance(v, np.ndarray))


def _world_from_json(text: str) -> World:
    scenario = ScenarioConfig.from_json(text)
    # two independent streams of the one seed: changing the catalogue leaves the audience as it was (and back), so
    # an A/B of catalogues is not confounded by a redrawn audience
    catalogue_seq, audience_seq = np.random.SeedSequence(scenario.world_seed).spawn(2)
    catalogue = build_catalogue(scenario.catalogue, np.random.default_rng(catalogue_seq))
    audience = build_audience(scenario.audience, catalogue.n_topics, scenario.audience.budget_mean,
                              np.random.default_rng(audience_seq))
    return World(scenario, catalogue, audience)


_WORLDS: ByteBoundedCache[str, World] = ByteBoundedCache(
    _world_from_json, lambda world: world.nbytes, lambda: int(memory.limit_bytes() * WORLD_CACHE_SHARE))


def build_world(scenario: ScenarioConfig) -> World:
    """The scenario's world; cached (bounded by bytes), so many envs over one scenario share (read-only) arrays."""
    return _WORLDS(scenario.to_json())


@dataclass
class StepResult:
    """One batch step. For users whose episode ended, ``obs_UO``/``mask_UI`` already show the next user
    (when auto-resetting) and ``final_obs_UO``/``final_mask_UI`` hold the state the episode ended in."""

    obs_UO: np.ndarray
    candidates: Candidates
    reward_U: np.ndarray
    terminated_U: np.ndarray
    truncated_U: np.ndarray
    clicked_item_U: np.ndarray  # -1 = no click
    final_obs_UO: np.ndarray
    final_candidates: Candidates
    episode_return_U: np.ndarray  # valid where done
    episode_len_U: np.ndarray
    episode_clicks_U: np.ndarray
    segment_U: np.ndarray  # segment of the user who took this step

    @property
    def mask_UI(self) -> np.ndarray:
        return mask_of(self.candidates)

    @property
    def final_mask_UI(self) -> np.ndarray:
        return mask_of(self.final_candidates)

    @property
    def done_U(self) -> np.ndarray:
        return self.terminated_U | self.truncated_U


class VecRecEnv:
    """``n_envs`` user sessions simulated as one numpy batch.

    Actions are slates of item indices, shape ``(n_envs, slate_size)``; an item that is not in
    ``mask_UI`` (off air, not a candidate) is treated as an empty slot. With ``autoreset`` a finished
    session is replaced by a new user in the same step; without it the slot goes idle (``active_U``).
    Observations are (users x features) arrays in Fortran order: the transpose of one block copy of the
    (features x users) state, which is 30x cheaper than a row-major copy at thousands of users.
    """

    def __init__(self, scenario: ScenarioConfig, n_envs: int, seed: int, autoreset: bool = True) -> None:
        self.scenario = scenario
        self.world = build_world(scenario)
        self.catalogue = self.world.catalogue
        self.audience = self.world.audience
        self.dyn = scenario.dynamics
        self.n_envs = n_envs
        self.autoreset = autoreset
        self.slate_size = self.dyn.slate_size
        self.n_items = self.catalogue.n_items
        self.item_features_IF = self.catalogue.features_IF(scenario.catalogue.quality_observed)
        self.rng = np.random.default_rng(seed)
        self._full_mask: np.ndarray | None = None
        self._topic_I = self.catalogue.topic_I if self.catalogue.onehot else None
        self._sampler = CandidateSampler(self.n_items, self.dyn.n_candidates, self.rng)
        self._observes_segment = scenario.audience.segment_observed and self.audience.n_segments > 1
        self.obs_names = self._obs_names()
        self.obs_dim = len(self.obs_names)
        # state rows: the hidden interests, then every observed feature in obs_names order (see reset)
        self._obs_start = 0 if scenario.audience.interests_observed else self.catalogue.n_topics
        self._row = {name: self._obs_start + i for i, name in enumerate(self.obs_names)}
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self, users_U: np.ndarray | None = None) -> np.ndarray:
        """Start a session in every slot, for random users of the population or for ``users_U`` (ids)."""
        u = self.n_envs
        k = self.catalogue.n_topics
        # interests, topic histories and every observed feature are rows of one (features x users) array:
        # each update runs over contiguous rows, and an observation is a single block copy, handed out as
        # its transpose (a Fortran-ordered users x features array; a row-major copy would cost 30x more)
        self._state_XU = np.zeros((self._obs_start + self.obs_dim, u), dtype=np.float32)
        self.interest_KU = self._state_XU[:k]
        self.clicked_KU = self._rows("clicked_topic[0]", k)
        self.shown_KU = self._rows("shown_topic[0]", k)
        self.last_click_U = self._state_XU[self._row["last_click"]]
        self.user_U = np.zeros(u, dtype=np.int64)
        self.segment_U = np.zeros(u, dtype=np.int64)
        self.ad_shown_U = np.zeros(u, dtype=np.float32)
        self.budget_U = np.zeros(u, dtype=np.float32)
        self.elapsed_U = np.zeros(u, dtype=np.float32)
        self.t_U = np.zeros(u, dtype=np.int64)
        self.clock_U = np.zeros(u, dtype=np.int64)
        self.ep_return_U = np.zeros(u, dtype=np.float64)
        self.ep_clicks_U = np.zeros(u, dtype=np.int64)
        self.active_U = np.ones(u, dtype=bool)
        self._new_users(np.arange(u), users_U)
        self.candidates = self._candidates(np.arange(u))
        self.obs_UO = self._observe()
        return self.obs_UO

    def _rows(self, first: str, n: int) -> np.ndarray:
        """``n`` state rows starting at the observed feature ``first``."""
        return self._state_XU[self._row[first]:self._row[first] + n]

    @property
    def interest_UK(self) -> np.ndarray:
        """Hidden interests, users x topics (a view)."""
        return self.interest_KU.T

    def _new_users(self, idx: np.ndarray, users: np.ndarray | None = None) -> None:
        aud = self.audience
        if users is None:
            users = self.rng.integers(0, aud.n_users, idx.shape[0])
        self.user_U[idx] = users
        self.segment_U[idx] = aud.segment_N[users]
        self.interest_KU[:, idx] = aud.interest_NK[users].T
        self.budget_U[idx] = aud.budget_N[users]
        self.clock_U[idx] = self.rng.integers(0, self.catalogue.period, idx.shape[0])
        if self._observes_segment:
            segment_SU = self._rows(f"segment[{aud.names[0]}]", aud.n_segments)
            segment_SU[:, idx] = np.eye(aud.n_segments, dtype=np.float32)[:, self.segment_U[idx]]
        self.shown_KU[:, idx] = 0
        self.clicked_KU[:, idx] = 0
        for a in (self.ad_shown_U, self.elapsed_U, self.t_U, self.last_click_U, self.ep_return_U, self.ep_clicks_U):
            a[idx] = 0

    @property
    def mask_UI(self) -> np.ndarray:
        """Recommendable items of every user now, as a boolean (users x items) mask."""
        return mask_of(self.candidates)

    def _candidates(self, idx: np.ndarray) -> Candidates:
        """Recommendable items for users ``idx``: on air, and among this step's sampled candidates.

        The common cases avoid full (users x items) passes: an always-on catalogue without candidate
        sampling shares one read-only all-true mask, and sampled candidates stay windows (mask on demand).
        """
        n, c = idx.shape[0], self.dyn.n_candidates
        if self.catalogue.always_on and not c:
            if self._full_mask is None or self._full_mask.shape[0] != n:
                self._full_mask = np.ones((n, self.n_items), dtype=bool)
                self._full_mask.setflags(write=False)
            return self._full_mask
        if c:
            windows = self._sampler.draw(self.rng, n)
            if self.catalogue.always_on:
                return windows  # config validation guarantees n_candidates >= slate_size
            mask = windows.mask_UI & self.catalogue.available_UI(self.clock_U[idx])
        else:
            mask = self.catalogue.available_UI(self.clock_U[idx])
        short = mask.sum(axis=1) < self.slate_size
        if short.any():  # too few on air: fall back to the whole catalogue rather than an impossible slate
            mask[short] = True
        return mask

    def _obs_names(self) -> list[str]:
        k = self.catalogue.n_topics
        aud = self.scenario.audience
        names: list[str] = []
        if aud.interests_observed:
            names += [f"interest[{i}]" for i in range(k)]
        names += [f"clicked_topic[{i}]" for i in range(k)]
        names += [f"shown_topic[{i}]" for i in range(k)]
        if self._observes_segment:
            names += [f"segment[{s}]" for s in self.audience.names]
        if not self.catalogue.always_on:
            names += ["time_sin", "time_cos"]
        names += ["session_progress", "minutes_consumed", "last_click"]
        if self.dyn.ad_fatigue_gain > 0:
            names += ["ads_shown"]
        if aud.budget_observed:
            names += ["budget_left"]
        return names

    def _observe(self, idx: np.ndarray | slice = slice(None)) -> np.ndarray:
        """What the recommender sees of users ``idx`` (all by default), laid out as ``obs_names``."""
        state, row, scale = self._state_XU, self._row, self.scenario.audience.budget_mean
        if not self.catalogue.always_on:
            phase = 2 * np.pi * (self.clock_U[idx] % self.catalogue.period) / self.catalogue.period
            state[row["time_sin"], idx] = np.sin(phase)
            state[row["time_cos"], idx] = np.cos(phase)
        state[row["session_progress"], idx] = self.t_U[idx] / self.dyn.max_steps
        state[row["minutes_consumed"], idx] = self.elapsed_U[idx] / scale
        if "ads_shown" in row:
            state[row["ads_shown"], idx] = self.ad_shown_U[idx]
        if "budget_left" in row:
            state[row["budget_left"], idx] = self.budget_U[idx] / scale
        return state[self._obs_start:, idx].copy().T

    def _fatigue(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Topic and ad fatigue as the click model takes them (scaled by their gains; None when off)."""
        dyn = self.dyn
        return (dyn.fatigue_gain * self.shown_KU if dyn.fatigue_gain > 0 else None,
                dyn.ad_fatigue_gain * self.ad_shown_U if dyn.ad_fatigue_gain > 0 else None)

    # ------------------------------------------------------------------ step
    def step(self, slate_US: np.ndarray) -> StepResult:
        cat, dyn = self.catalogue, self.dyn
        u = self.n_envs
        rows = np.arange(u)
        slate_US = np.asarray(slate_US, dtype=np.int64).reshape(u, self.slate_size)
        slate_US = np.minimum(np.maximum(slate_US, 0), self.n_items - 1)
        valid_US = contains(self.candidates, slate_US)

        affinity_US, extra_US = item_scores(
            cat, dyn, self.interest_KU, *self._fatigue(), self.clock_U, slate_US, self._topic_I
        )
        p_US = choice_probs(dyn, affinity_US, extra_US, valid_US)
        uniform_U3 = self.rng.random((u, 3))
        pos_U = sample_choice(p_US, uniform_U3[:, 0])
        clicked = pos_U >= 0
        chosen_U = cells(self.slate_size, np.maximum(pos_U, 0))
        item_U = np.where(clicked, slate_US.reshape(-1)[chosen_U], -1)
        item_safe = np.maximum(item_U, 0)

        watch_U = np.where(clicked, np.minimum(self.budget_U, cat.length_I[item_safe]), 0.0)
        reward_U = self._reward(clicked, item_safe, watch_U, affinity_US.reshape(-1)[chosen_U], uniform_U3[:, 1])
        # session budget: consumption costs time, quality refills it, an empty step costs a little
        self.budget_U = np.where(
            clicked,
            self.budget_U - watch_U + dyn.budget_refill * watch_U * cat.quality_I[item_safe],
            self.budget_U - dyn.no_click_cost,
        ).astype(np.float32)
        self.elapsed_U += np.where(clicked, watch_U, dyn.no_click_cost).astype(np.float32)

        self.shown_KU *= dyn.fatigue_decay
        self.clicked_KU *= HISTORY_DECAY
        if self._topic_I is not None:  # one topic per item: touch one (topic, user) cell, not a row of topics
            topic_U = self._topic_I[item_safe]
            if dyn.drift_rate > 0:
                drift_clicked_topic(self.interest_KU, topic_U, clicked, dyn.drift_rate, uniform_U3[:, 2])
            self.clicked_KU.reshape(-1)[topic_U * u + rows] += clicked
            for pos in range(self.slate_size):  # one cell per user and position: no clashes
                self.shown_KU.reshape(-1)[self._topic_I[slate_US[:, pos]] * u + rows] += valid_US[:, pos]
        else:
            topics_UK = cat.topics_IK[item_safe] * clicked[:, None]
            if dyn.drift_rate > 0:
                drifted = drift_interests(np.ascontiguousarray(self.interest_UK), topics_UK, dyn.drift_rate,
                                          uniform_U3[:, 2])
                self.interest_KU[:, clicked] = drifted[clicked].T
            self.clicked_KU += topics_UK.T
            self.shown_KU += (cat.topics_IK[slate_US] * valid_US[:, :, None]).sum(axis=1).T
        if dyn.ad_fatigue_gain > 0:
            ads = (cat.is_ad_I[slate_US] & valid_US).sum(axis=1)
            self.ad_shown_U = (dyn.fatigue_decay * self.ad_shown_U + ads).astype(np.float32)
        self.last_click_U[:] = clicked
        self.t_U += 1
        self.clock_U += 1

        terminated = self.budget_U <= 0
        if dyn.ad_leave_hazard > 0:
            # users tolerate a few ads; the chance of leaving grows with the square of ad fatigue
            leave_p = np.minimum(dyn.ad_leave_hazard * (dyn.ad_fatigue_gain * self.ad_shown_U) ** 2, 1.0)
            terminated |= self.rng.random(u) < leave_p
        truncated = (self.t_U >= dyn.max_steps) & ~terminated
        reward_U = np.where(self.active_U, reward_U, 0.0).astype(np.float32)
        terminated &= self.active_U
        truncated &= self.active_U
        self.ep_return_U += reward_U
        self.ep_clicks_U += clicked & self.active_U
        done = terminated | truncated

        segment_U = self.segment_U.copy()
        ep_return, ep_len, ep_clicks = self.ep_return_U.copy(), self.t_U.copy(), self.ep_clicks_U.copy()
        final_obs = self._observe()
        final_candidates = self.candidates
        self.candidates = self._candidates(rows)
        done_idx = np.flatnonzero(done)
        if done_idx.size:
            if self.autoreset:
                self._new_users(done_idx)
                if not self.catalogue.always_on:  # a new user arrives at another time of day
                    self.candidates[done_idx] = mask_of(self._candidates(done_idx))
            else:
                self.active_U[done_idx] = False
        self.obs_UO = final_obs
        if done_idx.size and self.autoreset:
            self.obs_UO = final_obs.copy(order="K")
            self.obs_UO[done_idx] = self._observe(done_idx)
        return StepResult(
            obs_UO=self.obs_UO,
            candidates=self.candidates,
            reward_U=reward_U,
            terminated_U=terminated,
            truncated_U=truncated,
            clicked_item_U=np.where(self.active_U | done, item_U, -1),
            final_obs_UO=final_obs,
            final_candidates=final_candidates,
            episode_return_U=ep_return,
            episode_len_U=ep_len,
            episode_clicks_U=ep_clicks,
            segment_U=segment_U,
        )

    def _reward(self, clicked: np.ndarray, item_U: np.ndarray, watch_U: np.ndarray,
                affinity_U: np.ndarray, uniform_U: np.ndarray) -> np.ndarray:
        kind = self.scenario.reward
        cat = self.catalogue
        if kind == "click":
            return clicked.astype(np.float32)
        if kind == "watch_time":
            return watch_U.astype(np.float32)
        if kind == "bid":
            return np.where(clicked, cat.value_I[item_U], 0.0).astype(np.float32)
        bought = uniform_U < purchase_prob(self.dyn, affinity_U, cat.value_I[item_U])
        return np.where(clicked & bought, cat.value_I[item_U], 0.0).astype(np.float32)

    # ------------------------------------------------------------------ the true model (oracles only)
    def true_model(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every item shown alone: P(click), expected reward given a click, expected budget change.

        This reads hidden state; only the oracle baselines may call it.
        """
        cat, dyn = self.catalogue, self.dyn
        u = self.n_envs
        items = np.broadcast_to(np.arange(self.n_items), (u, self.n_items))
        affinity_UI, extra_UI = item_scores(cat, dyn, self.interest_KU, *self._fatigue(), self.clock_U, items)
        if dyn.choice_model == "logit":
            z = dyn.affinity_weight * affinity_UI + extra_UI - dyn.no_click_score
            p_click = 1.0 / (1.0 + np.exp(-z))
        else:
            w = np.maximum(affinity_UI + 1.0 + extra_UI, 0.0)
            p_click = w / (w + dyn.no_click_mass)
        watch_UI = np.minimum(self.budget_U[:, None], cat.length_I[None, :])
        kind = self.scenario.reward
        if kind == "click":
            r_UI = np.ones_like(p_click)
        elif kind == "watch_time":
            r_UI = watch_UI
        elif kind == "bid":
            r_UI = np.broadcast_to(cat.value_I, p_click.shape)
        else:
            r_UI = purchase_prob(dyn, affinity_UI, cat.value_I[None, :]) * cat.value_I[None, :]
        budget_delta_UI = -watch_UI + dyn.budget_refill * watch_UI * cat.quality_I[None, :]
        return p_click.astype(np.float32), r_UI.astype(np.float32), budget_delta_UI.astype(np.float32)


class RecEnv(gym.Env):
    """One user per episode as a ``gymnasium.Env``. ``info["action_mask"]`` marks recommendable items."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: ScenarioConfig, seed: int | None = None) -> None:
        self.scenario = scenario
        self._vec = VecRecEnv(scenario, 1, seed or 0, autoreset=False)
        n, s = self._vec.n_items, self._vec.slate_size
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (self._vec.obs_dim,), np.float32)
        self.action_space = gym.spaces.Discrete(n) if s == 1 else gym.spaces.MultiDiscrete([n] * s)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._vec = VecRecEnv(self.scenario, 1, seed, autoreset=False)
        else:
            self._vec.reset()
        return self._vec.obs_UO[0].copy(), self._info()

    def step(self, action):
        r = self._vec.step(np.asarray(action).reshape(1, -1))
        info = self._info()
        info["clicked_item"] = int(r.clicked_item_U[0])
        obs = r.final_obs_UO[0].copy()
        return obs, float(r.reward_U[0]), bool(r.terminated_U[0]), bool(r.truncated_U[0]), info

    def _info(self) -> dict:
        return {"action_mask": self._vec.mask_UI[0].astype(np.int8)}


def make_env(preset: str = "video", seed: int | None = None, **overrides) -> RecEnv:
    """A Gymnasium env for a named preset; ``overrides`` are dotted config paths with ``__`` for dots,
    e.g. ``make_env("video", dynamics__slate_size=2)``."""
    from dqn_sim.presets import get_preset

    scenario = get_preset(preset)
    if overrides:
        scenario = scenario.with_overrides({k.replace("__", "."): v for k, v in overrides.items()})
    return RecEnv(scenario, seed=seed)


def make_vec_env(scenario: ScenarioConfig, n_envs: int, seed: int, autoreset: bool = True) -> VecRecEnv:
    """The vectorised environment for scripts and notebooks: a batch of ``n_envs`` users stepped as numpy arrays
    (the package's public entry point beside the Gymnasium ``make_env``)."""
    return VecRecEnv(scenario, n_envs, seed, autoreset)
