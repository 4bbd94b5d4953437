"""Recommendation-quality metrics: formulas on hand-made slates, the evaluation that tallies them, the rows and the
summary that carry them, the figures and the sentence of the mechanism view."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dqn_sim import plots, policies
from dqn_sim.agents.baselines import RandomPolicy
from dqn_sim.agents.policy import Policy
from dqn_sim.cli import main
from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.describe import final_results, mechanism_sentence
from dqn_sim.presets import get_preset
from dqn_sim.sim.env import VecRecEnv
from dqn_sim.stats import mean_ci, rate_ci
from dqn_sim.train.evaluate import evaluate_policy
from dqn_sim.train.sessions import Sessions, SlateTally, interval_columns, left_early, session_metrics
from dqn_sim.train.trainer import Trainer, eval_rows, segment_rows
from dqn_sim.vocab import EVALUATION, SEGMENTS

SCENARIO = get_preset("video").with_overrides({"audience.n_users": 500})
PER_SESSION = ("diversity", "novelty", "quality")  # means of per-session values: Student-t intervals
SHARES = ("clickbait_share", "leave_rate")  # Beta intervals
D = 1 - 1 / np.sqrt(2)  # topic distance between a pure topic and an even mix of two


def valid(fig: go.Figure) -> go.Figure:
    """The figures skip Plotly's validation for speed; re-validating here catches any misspelt property."""
    go.Figure(fig.to_dict())
    return fig


# --------------------------------------------------------------------------------------------- formulas, by hand
def hand_made_tally() -> SlateTally:
    """Five items over two topics, popularity 4:2:1:1:0.5 (the tally turns it into shares). Three sessions, slates
    of two, two steps:

    session 0 shows 0, 3, 3, 0: one topic throughout; session 1 shows 0, 1, 2, 2; session 2 shows 2 and then ends.
    """
    tally = SlateTally(
        topics_IK=np.array([[1, 0], [0, 1], [0.5, 0.5], [1, 0], [0, 1]], dtype=np.float32),
        popularity_I=np.array([4, 2, 1, 1, 0.5]),
        quality_I=np.array([0.1, 0.2, 0.3, 0.4, 9.0]),
        clickbait_I=np.array([True, False, False, True, True]),
        n_sessions=3,
    )
    tally.add(np.array([[0, 3], [0, 1], [2, 4]]), np.array([[True, True], [True, True], [True, False]]))
    tally.add(np.array([[3, 0], [2, 2], [1, 0]]), np.array([[True, True], [True, True], [False, False]]))
    return tally


def test_tally_of_hand_made_slates_gives_the_known_answers() -> None:
    tally = hand_made_tally()
    s = tally.per_session()
    assert tally.coverage == pytest.approx(4 / 5)  # item 4 sat in a slot that was never shown
    assert s["shown"].tolist() == [4, 4, 1] and s["clickbait"].tolist() == [4, 1, 0]
    # pairs of session 1 (0, 1, 2, 2): (0,1) distance 1, four pairs of a pure topic with the mix, (2,2) distance 0
    assert s["diversity"][:2] == pytest.approx([0.0, (1 + 4 * D) / 6])
    assert np.isnan(s["diversity"][2])  # one item: no pair
    total = 4 + 2 + 1 + 1 + 0.5
    bits = -np.log2(np.array([4, 2, 1, 1]) / total)
    assert s["novelty"] == pytest.approx([(2 * bits[0] + 2 * bits[3]) / 4, bits[[0, 1, 2, 2]].mean(), bits[2]])
    assert s["quality"] == pytest.approx([0.25, 0.225, 0.3])


def test_diversity_matches_the_pairwise_definition_on_random_mixes() -> None:
    """The running sum of unit vectors gives the same mean as every pair of every session, counted one by one."""
    rng = np.random.default_rng(0)
    topics = rng.dirichlet(np.ones(4), size=30)
    tally = SlateTally(topics, rng.random(30) + 0.1, rng.random(30), rng.random(30) < 0.3, n_sessions=5)
    slates = rng.integers(0, 30, size=(6, 5, 3))
    shown = rng.random((6, 5, 3)) < 0.8
    for slate, mask in zip(slates, shown, strict=True):
        tally.add(slate, mask)
    unit = topics / np.linalg.norm(topics, axis=1, keepdims=True)
    for u, diversity in enumerate(tally.per_session()["diversity"]):
        items = slates[:, u][shown[:, u]]
        pairs = [1 - unit[a] @ unit[b] for i, a in enumerate(items) for j, b in enumerate(items) if i != j]
        assert diversity == pytest.approx(np.mean(pairs))


def test_an_early_leave_is_a_termination_before_the_step_budget() -> None:
    # left at step 3; left on the last step (the env calls it terminated, the user saw the whole session); stayed
    assert left_early(np.array([True, True, False]), np.array([3, 5, 5]), max_steps=5).tolist() == [True, False, False]


def test_session_metrics_of_hand_made_sessions() -> None:
    per = hand_made_tally().per_session()
    s = Sessions(segment=np.array([0, 1, 1]), returns=np.array([1.0, 2.0, 6.0]), length=np.array([2, 2, 1]),
                 clicks=np.array([1, 2, 0]), left=left_early(np.array([False, False, True]), np.array([2, 2, 1]), 2),
                 **per)
    m = session_metrics(s)
    assert m["leave_rate"] == pytest.approx(1 / 3) and m["leave_rate_ci"] == rate_ci(1, 3)[1:]
    assert m["clickbait_share"] == pytest.approx(5 / 9) and m["clickbait_share_ci"] == rate_ci(5, 9)[1:]
    assert m["ctr"] == pytest.approx(3 / 5) and m["episode_len_mean"] == pytest.approx(5 / 3)
    assert m["diversity"] == pytest.approx((1 + 4 * D) / 12)  # session 2 has no pair and is left out
    assert m["diversity_ci"] == pytest.approx(mean_ci(per["diversity"][:2])[1:])
    assert m["quality"] == pytest.approx((0.25 + 0.225 + 0.3) / 3)
    part = session_metrics(s.subset(s.segment == 1))
    assert part["return_mean"] == 4.0 and part["leave_rate"] == pytest.approx(1 / 2)
    columns = interval_columns(m)
    assert (columns["return_lo"], columns["return_hi"]) == m["return_ci"] and "return_ci" not in columns


# --------------------------------------------------------------------------------------------- the evaluation
class Recording(Policy):
    """A random policy that keeps what it recommended to whom, to recount the metrics one session at a time."""

    name = "recording"

    def __init__(self) -> None:
        self.inner, self.steps = RandomPolicy(seed=1), []

    def act(self, env: VecRecEnv) -> np.ndarray:
        slate = self.inner.act(env)
        self.steps.append((slate.copy(), env.active_U.copy()))
        return slate


def test_evaluation_tallies_what_each_session_was_shown_and_who_is_still_there() -> None:
    policy = Recording()
    result = evaluate_policy(policy, SCENARIO, 40, seed=5, learn=False)
    cat = VecRecEnv(SCENARIO, 1, 0).catalogue
    s = result.sessions
    shown = [np.concatenate([slate[u] for slate, active in policy.steps if active[u]]) for u in range(40)]
    assert result.coverage == pytest.approx(len(set(np.concatenate(shown).tolist())) / cat.n_items)
    assert result.quality == pytest.approx(np.mean([cat.quality_I[items].mean() for items in shown]))
    assert result.clickbait_share == pytest.approx(np.concatenate([cat.clickbait_I[i] for i in shown]).mean())
    share = cat.popularity_I.astype(np.float64) / cat.popularity_I.sum()
    assert result.novelty == pytest.approx(np.mean([-np.log2(share[items]).mean() for items in shown]))
    # survival[t]: share of sessions that take step t + 1; only the step budget truncates, so leaving = ending early
    assert result.survival[0] == 1.0 and len(result.survival) == s.length.max()
    assert result.survival == pytest.approx([(s.length > t).mean() for t in range(s.length.max())])
    assert result.leave_rate == pytest.approx((s.length < SCENARIO.dynamics.max_steps).mean())

    # it only observes: the same users meet the same draws as in a plain loop
    env, plain, returns = VecRecEnv(SCENARIO, 40, 5, autoreset=False), RandomPolicy(seed=1), np.zeros(40)
    while env.active_U.any():
        step = env.step(plain.act(env))
        returns[step.done_U] = step.episode_return_U[step.done_U]
    assert result.returns == returns.tolist()


def test_nobody_leaves_a_short_session_with_a_huge_budget() -> None:
    scenario = SCENARIO.with_overrides({"dynamics.max_steps": 3, "audience.budget_mean": 100000.0})
    result = evaluate_policy(RandomPolicy(seed=0), scenario, 30, seed=2)
    assert result.survival == [1.0, 1.0, 1.0] and result.leave_rate == 0.0 and result.episode_len_mean == 3.0


def test_rows_carry_every_declared_column_overall_and_per_segment() -> None:
    result = evaluate_policy(RandomPolicy(seed=0), SCENARIO, 60, seed=3)
    row = eval_rows(100, 1.0, result)
    assert list(row) == EVALUATION.names
    assert row["diversity_lo"] <= row["diversity"] <= row["diversity_hi"] and row["coverage"] == result.coverage
    names = VecRecEnv(SCENARIO, 1, 0).audience.names
    rows = segment_rows(result, names)
    assert all(list(r) == SEGMENTS.names for r in rows)
    assert sum(r["episodes"] for r in rows) == 60
    weighted = sum(r["leave_rate"] * r["episodes"] for r in rows) / 60
    assert weighted == pytest.approx(result.leave_rate)


def test_evaluate_json_has_every_quality_metric_with_its_interval(capsys) -> None:
    assert main(["evaluate", "--preset", "video", "--set", "audience.n_users=500", "--policy", "oracle",
                 "--episodes", "30", "--seed", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in (*PER_SESSION, *SHARES):
        lo, hi = out[f"{key}_ci"]
        assert lo <= hi and np.isfinite(out[key]), key
    for key in PER_SESSION:  # a Student-t interval holds its mean (a Beta interval of 0% or 100% does not)
        assert out[f"{key}_ci"][0] <= out[key] <= out[f"{key}_ci"][1], key
    assert 0 < out["coverage"] <= 1 and "coverage_ci" not in out
    assert out["survival"][0] == 1.0 and "sessions" not in out


def test_a_finished_run_keeps_the_test_survival_of_every_policy() -> None:
    trainer = Trainer(SCENARIO, AgentConfig(hidden_sizes=[16], batch_size=16),
                      TrainConfig(total_steps=320, n_envs=16, learning_starts=64, log_every=160, eval_every=320,
                                  eval_episodes=16, seed=0))
    trainer.evaluate_baselines()
    while not trainer.done:
        trainer.step()
    summary = trainer.finish()
    assert set(summary["survival"]) == {"dqn", *policies.evaluated_in_training()}
    assert all(shares[0] == 1.0 for shares in summary["survival"].values())
    evals = pd.DataFrame(trainer.evals)
    assert evals[["coverage", "quality", "clickbait_share", "leave_rate"]].notna().all(axis=None)
    assert {r["policy"] for r in trainer.segments} == {"dqn", *policies.evaluated_in_training()}


# --------------------------------------------------------------------------------------------- figures and words
def results_table(dqn: dict, oracle: dict) -> pd.DataFrame:
    """Evaluation rows of the DQN and the myopic oracle (test split), as ``final_results`` orders them."""
    base = {"step": 1000, "wall_time": 1.0, "ctr": 0.5, "ctr_lo": 0.4, "ctr_hi": 0.6, "coverage": 0.3,
            "split": "test", "return_lo": 0.0, "return_hi": 100.0}
    rows = []
    for policy, values in (("dqn", dqn), ("oracle", oracle)):
        row = {**base, "policy": policy, **values}
        for stem in ("clickbait_share", "quality", "leave_rate"):
            row[f"{stem}_lo"], row[f"{stem}_hi"] = row[stem] - 0.05, row[stem] + 0.1
        rows.append(row)
    return final_results(pd.DataFrame(rows))


DQN = {"return_mean": 60.0, "episode_len_mean": 40.0, "leave_rate": 0.3, "clickbait_share": 0.1, "quality": 0.6}
ORACLE = {"return_mean": 48.0, "episode_len_mean": 9.0, "leave_rate": 1.0, "clickbait_share": 0.9, "quality": -1.0}


def test_survival_chart_draws_one_line_per_policy_from_step_one() -> None:
    fig = valid(plots.survival_chart({"dqn": [1.0, 0.9, 0.5], "oracle": [1.0, 0.2]}))
    assert [t.name for t in fig.data] == [policies.label("dqn"), policies.label("oracle")]
    assert list(fig.data[0].x) == [1, 2, 3] and list(fig.data[1].y) == [1.0, 0.2]
    assert fig.data[1].line.color == policies.color("oracle")
    assert fig.layout.yaxis.tickformat == ".0%"


def test_quality_chart_has_clickbait_and_quality_with_intervals() -> None:
    table = results_table(DQN, {**ORACLE, "clickbait_share": 0.0})
    table.loc[table.policy == "oracle", ["clickbait_share_lo", "clickbait_share_hi"]] = [0.001, 0.05]
    fig = valid(plots.quality_chart_by_policy(table))
    assert [a.text for a in fig.layout.annotations] == ["Clickbait share", "Mean item quality"]
    clickbait, quality = fig.data
    assert list(clickbait.x) == [policies.label("dqn"), policies.label("oracle")]
    assert list(quality.y) == [0.6, -1.0]
    assert min(clickbait.error_y.arrayminus) >= 0  # a Beta interval of 0% lies above its point: no bar below
    assert list(quality.error_y.array) == pytest.approx([0.1, 0.1])
    assert list(quality.error_y.arrayminus) == pytest.approx([0.05, 0.05])


def test_the_sentence_is_written_from_the_numbers() -> None:
    sentence = mechanism_sentence(results_table(DQN, ORACLE))
    assert sentence == ("The DQN keeps users longer than the myopic oracle (40.0 vs 9.0 steps per session; 30% vs "
                        "100% leave before the last step) by showing less clickbait (10% vs 90% of recommendations) "
                        "and higher-quality items (mean quality 0.60 vs -1.00), and earns 25% more per session.")
    worse = mechanism_sentence(results_table({**DQN, "episode_len_mean": 5.0, "return_mean": 24.0}, ORACLE))
    assert "loses users sooner than the myopic oracle" in worse and ") while showing less clickbait" in worse
    assert worse.endswith("earns 50% less per session.")
    no_bait = mechanism_sentence(results_table({**DQN, "clickbait_share": 0.0}, {**ORACLE, "clickbait_share": 0.0}))
    assert "clickbait" not in no_bait and "by showing higher-quality items" in no_bait
    everyone_leaves = mechanism_sentence(results_table({**DQN, "leave_rate": 1.0}, ORACLE))
    assert "(40.0 vs 9.0 steps per session) by showing" in everyone_leaves
    assert mechanism_sentence(results_table({**DQN, "quality": np.nan}, ORACLE)) is None
