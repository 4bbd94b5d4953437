"""Tables that describe a simulated world to people: items and users in words and rounded numbers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dqn_sim import policies
from dqn_sim.sim.env import World
from dqn_sim.splits import final_rows


def topic_names(n_topics: int, names: Sequence[str] = ()) -> list[str]:
    """The topics' display names: the scenario's own (``catalogue.topic_names``), else Topic 1, 2, …"""
    return list(names) if len(names) == n_topics else [f"Topic {k + 1}" for k in range(n_topics)]


def _round(values: np.ndarray, digits: int) -> np.ndarray:
    """Round in float64: float32 arrays would print 128.800003."""
    return np.round(values.astype(np.float64), digits)


def items_frame(world: World, items: Sequence[int]) -> pd.DataFrame:
    """One row per item: its main topic, the hidden quality, clickbait flag, length, popularity, value."""
    cat = world.catalogue
    idx = np.asarray(items, dtype=np.int64)
    names = topic_names(cat.n_topics, world.scenario.catalogue.topic_names)
    rank = np.empty(cat.n_items, dtype=np.int64)
    rank[np.argsort(-cat.popularity_I, kind="stable")] = np.arange(1, cat.n_items + 1)
    frame = pd.DataFrame({
        "item": [f"#{i}" for i in idx],
        "main topic": [names[k] for k in cat.topics_IK[idx].argmax(axis=1)],
        "topic share": _round(cat.topics_IK[idx].max(axis=1), 2),
        "quality": _round(cat.quality_I[idx], 2),
        "clickbait": cat.clickbait_I[idx],
        "length (min)": _round(cat.length_I[idx], 1),
        "popularity rank": rank[idx],
    })
    if cat.value_I.any():
        frame["value"] = _round(cat.value_I[idx], 2)
    if not cat.always_on:
        frame["on air from step"] = cat.start_I[idx]
    return frame


def users_frame(world: World, users: Sequence[int], top: int = 2) -> pd.DataFrame:
    """One row per user: segment, session budget, and the topics they like most."""
    aud = world.audience
    idx = np.asarray(users, dtype=np.int64)
    names = topic_names(aud.interest_NK.shape[1], world.scenario.catalogue.topic_names)
    best = np.argsort(-aud.interest_NK[idx], axis=1)[:, :top]
    return pd.DataFrame({
        "user": idx,
        "segment": [aud.names[s] for s in aud.segment_N[idx]],
        "budget (min)": _round(aud.budget_N[idx], 1),
        "likes most": [", ".join(f"{names[k]} ({aud.interest_NK[u, k]:+.2f})" for k in row)
                       for u, row in zip(idx, best, strict=True)],
    })


def sample(n: int, k: int, seed: int) -> np.ndarray:
    """``k`` distinct ids out of ``n``, sorted, reproducible from ``seed``."""
    return np.sort(np.random.default_rng(seed).choice(n, size=min(k, n), replace=False))


def item_label(world: World, item: int) -> str:
    """``#12 Topic 3 · clickbait``: enough to follow a session without looking items up."""
    cat = world.catalogue
    tag = " · clickbait" if cat.clickbait_I[item] else ""
    names = topic_names(cat.n_topics, world.scenario.catalogue.topic_names)
    return f"#{item} {names[int(cat.topics_IK[item].argmax())]}{tag}"


def session_frame(world: World, steps: pd.DataFrame) -> pd.DataFrame:
    """A traced session in words: what was recommended, what was clicked, the reward and the budget left."""
    return pd.DataFrame({
        "step": steps["step"],
        "recommended": [", ".join(item_label(world, i) for i in slate) for slate in steps["slate"]],
        "clicked": [item_label(world, i) if i >= 0 else "—" for i in steps["clicked_item"]],
        "reward": steps["reward"].round(2),
        "budget left (min)": steps["budget_after"].round(1),
    })


def final_results(evals: pd.DataFrame) -> pd.DataFrame:
    """Each policy's result (its test evaluation once the run has one, else its latest), best return first, with
    the relative difference to the best baseline."""
    latest = final_rows(evals)
    best = latest.loc[latest["policy"].isin(policies.rivals()), "return_mean"].max()
    out = latest.sort_values("return_mean", ascending=False).reset_index(drop=True)
    out["vs_best_baseline"] = out["return_mean"] / best - 1 if best and np.isfinite(best) else np.nan
    return out


MECHANISM_COLUMNS = ["episode_len_mean", "leave_rate", "clickbait_share", "quality"]


def mechanism_sentence(table: pd.DataFrame) -> str | None:
    """How the learner's sessions (the DQN's, or a rival learner's) differ from the best rival's (by return), in one
    sentence a stakeholder can repeat, written from ``table`` (``final_results``): session length and early leaves,
    clickbait, item quality, return. None without a learner, a rival, or these metrics (a run stored before they
    were recorded)."""
    rows = table.set_index("policy")
    rival_rows = rows[rows.index.isin(policies.rivals())]
    learner = policies.trained(rows.index)
    if learner not in rows.index or rival_rows.empty:
        return None
    d, r = rows.loc[learner], rival_rows.loc[rival_rows["return_mean"].idxmax()]
    if pd.concat([d[MECHANISM_COLUMNS], r[MECHANISM_COLUMNS]]).isna().any():
        return None
    length, bait, quality = (d[c] - r[c] for c in ("episode_len_mean", "clickbait_share", "quality"))
    keeps = "keeps users longer than" if length > 0 else "loses users sooner than" if length < 0 else \
        "keeps users as long as"
    shown = [f"{'less' if bait < 0 else 'more'} clickbait ({d.clickbait_share:.0%} vs {r.clickbait_share:.0%} of "
             "recommendations)"] if d.clickbait_share or r.clickbait_share else []  # a catalogue may have none
    shown.append(f"{'higher' if quality > 0 else 'lower'}-quality items (mean quality {d.quality:.2f} vs "
                 f"{r.quality:.2f})")
    # "by" only where the numbers agree with the simulator's mechanism: quality refills a session, clickbait drains it
    link = "by" if length > 0 and quality > 0 and bait <= 0 else "while"
    sessions = [f"{d.episode_len_mean:.1f} vs {r.episode_len_mean:.1f} steps per session"]
    if f"{d.leave_rate:.0%}" != f"{r.leave_rate:.0%}":  # on video every user leaves before the cap: nothing to say
        sessions.append(f"{d.leave_rate:.0%} vs {r.leave_rate:.0%} leave before the last step")
    sentence = (f"The {policies.label(learner)} {keeps} the {policies.label(str(r.name)).lower()} "
                f"({'; '.join(sessions)}) {link} showing {' and '.join(shown)}")
    gain = d.get("vs_best_baseline", np.nan)
    if np.isfinite(gain):
        sentence += f", and earns {abs(gain):.0%} {'more' if gain >= 0 else 'less'} per session"
    return sentence + "."
