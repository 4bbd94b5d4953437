"""Learners trained side by side, ranked (issue 9): ``compare.standings`` on hand-made results."""

from __future__ import annotations

import pytest

from dqn_sim.compare import SEEDS, SESSIONS, NotComparable, Side, standings


def test_standings_rank_by_iqm_over_seeds_and_call_a_win_only_when_the_intervals_are_apart() -> None:
    dqn = Side("g1", "group", "dqn group", [10.0, 11.0, 12.0, 13.0], learner="dqn")
    linucb = Side("g2", "group", "linucb group", [5.0, 6.0, 7.0, 8.0], learner="linucb")
    close = Side("g3", "group", "thompson group", [9.5, 11.5, 12.5, 12.8], learner="thompson")
    apart = standings([linucb, dqn])
    assert [r["learner"] for r in apart["rows"]] == ["dqn", "linucb"] and apart["leader"] == "dqn"
    assert apart["variation"] == SEEDS and "training seeds" in apart["note"] and apart["clear"]
    assert apart["rows"][0]["iqm"] == pytest.approx(11.5) and apart["rows"][0]["n"] == 4
    assert apart["versus"]["probability_of_improvement"] == 1.0
    overlapping = standings([dqn, close, linucb])
    assert [r["learner"] for r in overlapping["rows"]] == ["thompson", "dqn", "linucb"] and not overlapping["clear"]


def test_standings_of_single_runs_cover_evaluation_sessions_only() -> None:
    a = Side("r1", "run", "dqn run", [2.0], sessions=[1.0, 2.0, 3.0, 2.0], learner="dqn")
    b = Side("r2", "run", "reinforce run", [1.0], sessions=[0.5, 1.0, 1.5, 1.0], learner="reinforce")
    ranked = standings([b, a])
    assert ranked["variation"] == SESSIONS and "one training seed" in ranked["note"]
    assert ranked["leader"] == "dqn" and ranked["rows"][0]["n"] == 4
    with pytest.raises(NotComparable, match="r3"):
        standings([a, Side("r3", "run", "never tested", [], learner="linucb")])
