"""Learners trained side by side (issue 9): several runs or groups started by one Start on the same scenario, budget,
users and seeds, read together for the Train page's live view.

A lineup is no new kind of run: each learner is an ordinary run (one seed) or run group (several), stored, resumed and
exported as any, holding a slot of the server as any (``ui.state.start_lineup``). Only the view is shared: one table,
one chart with a colour per learner (the policy registry's), and at the end the learners ranked with intervals that
say what they cover (``dqn_sim.compare.standings``).
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st

from dqn_sim import compare, plots, policies
from dqn_sim.splits import validation_rows
from dqn_sim.train.job import JobSnapshot
from dqn_sim.vocab import ACTIVE_STATES, STATES
from ui.fmt import inert
from ui.state import run_group, snapshot
from ui.status import state_look

ACTIVE_BY_LIVENESS = tuple(sorted(ACTIVE_STATES, key=lambda s: not STATES[s].live))  # live ones (running, paused) first


@dataclass(frozen=True)
class Learner:
    """One learner of a lineup as the page reads it: a single run or a group, live or stored."""

    id: str
    kind: str  # run | group
    name: str
    learner: str  # TrainConfig.algo
    state: str
    progress: float
    members: list[JobSnapshot]  # the run itself, or the group's members
    summary: dict  # the run's summary, or the group's aggregate over seeds once it has ended

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def label(self, member: JobSnapshot) -> str:
        """A curve's name: the learner, and its seed in a group."""
        name = policies.label(self.learner)
        return f"{name} · seed {member.train.seed}" if self.kind == "group" else name


def read(ids: list[str]) -> list[Learner]:
    """The lineup's learners by id, live or stored (one deleted since is left out)."""
    out = []
    for run_id in ids:
        if (view := run_group(run_id)) is not None:
            out.append(Learner(run_id, "group", view.name, view.train.algo, view.state, view.progress,
                               view.members, view.summary))
        elif (snap := snapshot(run_id)) is not None:
            out.append(Learner(run_id, "run", snap.name, snap.train.algo, snap.state, snap.progress, [snap],
                               snap.summary or {}))
    return out


def state(learners: list[Learner]) -> str:
    """The lineup's state: the first active one's (live ones, running before paused, before pending), else how
    they ended."""
    states = [entry.state for entry in learners]
    for s in ACTIVE_BY_LIVENESS:
        if s in states:
            return s
    return "finished" if set(states) == {"finished"} else "stopped" if "stopped" in states else states[0]


def table(learners: list[Learner]) -> list[dict]:
    """One row per learner: its state, progress, latest validation return and its test result."""
    rows = []
    for entry in learners:
        curves = [validation_rows(m.evals) for m in entry.members]
        last = [float(c[c["policy"] == entry.learner]["return_mean"].iloc[-1]) for c in curves
                if (c["policy"] == entry.learner).any()]
        test = ((entry.summary.get("aggregate") or {}).get(entry.learner) or {}).get("iqm") \
            if entry.kind == "group" else entry.summary.get(f"{entry.learner}_return")
        rows.append({"learner": policies.label(entry.learner),
                     "state": state_look(entry.state, entry.id)[0],
                     "progress": entry.progress, "seeds": len(entry.members),
                     "validation return": sum(last) / len(last) if last else None, "test return": test,
                     "run": entry.id})
    return rows


def chart(learners: list[Learner], *, x: str, smoothing: float) -> go.Figure:
    """Every member's curve in one chart, coloured by its learner: held-out evaluations once any learner has one,
    the training episodes before that."""
    runs = {entry.label(m): (m.metrics, m.evals) for entry in learners for m in entry.members}
    colors = {entry.label(m): policies.color(entry.learner) for entry in learners for m in entry.members}
    evaluated = any((m.evals["policy"] == entry.learner).any() for entry in learners for m in entry.members)
    return plots.runs_chart(runs, source="eval" if evaluated else "train", x=x, smoothing=smoothing, colors=colors)


def outcome(learners: list[Learner]) -> None:
    """Once every learner has ended: who wins, by the IQM of the test return, with intervals that say what they
    cover; green only when the leader's interval lies above the runner-up's."""
    if not learners or any(entry.active for entry in learners):
        return
    sides, left_out = [], []
    for entry in learners:
        try:
            sides.append(compare.side(entry.id, entry.kind, entry.name, entry.summary))
        except compare.NotComparable:
            left_out.append(policies.label(entry.learner))
    sides = [s for s in sides if s.seeds]  # a group none of whose seeds was judged on test users has none
    try:
        if len(sides) < 2:
            raise compare.NotComparable("fewer than two learners have a test result")
        ranked = compare.standings(sides)
    except compare.NotComparable as e:
        st.info(f"Not ranked: {inert(str(e))}" + (f" ({inert(', '.join(left_out))} ended before their final "
                                                  "evaluation)" if left_out else "") + ".", icon=":material/info:")
        return
    first, second = ranked["rows"][:2]
    text = ", ".join(f"**{policies.label(r['learner'])}** {r['iqm']:.3g} ({r['iqm_ci'][0]:.3g}–{r['iqm_ci'][1]:.3g})"
                     for r in ranked["rows"])
    versus = ranked["versus"]
    lead = (f"**{policies.label(first['learner'])}** leads: interquartile mean test return per session, best first: "
            f"{text}. {ranked['note']}. P({policies.label(first['learner'])} > "
            f"{policies.label(second['learner'])}) = {versus['probability_of_improvement']:.2f} "
            f"({versus['probability_of_improvement_ci'][0]:.2f}–{versus['probability_of_improvement_ci'][1]:.2f}).")
    if left_out:
        lead += f" Not ranked (no test result): {inert(', '.join(left_out))}."
    if ranked["clear"]:
        st.success(lead + " The intervals are apart: a clear win.", icon=":material/check_circle:")
    else:
        st.info(lead + " The intervals overlap: not yet a clear win" + (
            "; more seeds would tell." if ranked["variation"] == compare.SEEDS else
            "; train several seeds to know what another seed would do."), icon=":material/info:")
