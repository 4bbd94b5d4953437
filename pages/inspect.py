"""Inspect: one simulated user's session, step by step, under a trained learner (the DQN or a rival) and under a
baseline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from dqn_sim import model_files, plots, policies
from dqn_sim.agents.dqn import CheckpointError
from dqn_sim.agents.policy import Policy
from dqn_sim.config import ScenarioConfig
from dqn_sim.describe import item_label, session_frame, topic_names
from dqn_sim.errors import one_line
from dqn_sim.memory import MemoryLimitError
from dqn_sim.sim.env import World, build_world
from dqn_sim.trace import WARMUP_EPISODES, SessionTrace, pick_user, trace_session
from dqn_sim.train.evaluate import warm_baseline
from dqn_sim.vocab import STATES
from ui.fmt import inert, plain
from ui.page import header
from ui.state import current_scenario, registry, selected_run_id, snapshot, store

MAX_STEPS = 200  # long enough for every preset's typical session; RecSim's can run for thousands of steps


@st.cache_data(max_entries=64, show_spinner="Letting the baseline learn from other users, then replaying…")
def baseline_trace(scenario_json: str, name: str, seed: int, user: int) -> SessionTrace:
    """A baseline's session, cached: the online baselines first learn from other users, as in training."""
    scenario = ScenarioConfig.from_json(scenario_json)
    policy = warm_baseline(name, scenario, WARMUP_EPISODES, seed)
    return trace_session(scenario, policy, seed=seed, user=user, max_steps=MAX_STEPS)


@dataclass
class FrozenModel:
    """A run's model, copied once (a live run trains on), and its replays by (seed, user)."""

    run_id: str
    step: int
    learner: str  # what the run trained (``TrainConfig.algo``): the policy's name in the choices
    policy: Policy
    trained_on: dict[str, Any] | None = None  # the scenario a stored checkpoint says it was trained on
    traces: dict[tuple[int, int], SessionTrace] = field(default_factory=dict)


@st.cache_resource(max_entries=8, show_spinner="Loading the model from the run store…")
def stored_model(path: str, modified: float, learner: str,
                 acts_in: model_files.Scene) -> tuple[Policy, dict[str, Any] | None]:
    """A stored run's checkpoint of ``learner`` and the scenario it was trained on, loaded once per file version
    (shared by sessions: replays never change it); refused before it is built if its sizes are not ``acts_in`` or
    it would not fit in memory."""
    return model_files.load_learner(learner, Path(path), acts_in)


def stored_policy(run_id: str, scenario: ScenarioConfig, learner: str) -> tuple[Policy | None, dict[str, Any] | None]:
    """The run's checkpoint in the store and the scenario it was trained on ((None, None) without one); raises
    ``CheckpointError`` or ``MemoryLimitError`` for one that cannot act in ``scenario``."""
    path = store().checkpoint_path(run_id)
    if not path.is_file():
        return None, None
    return stored_model(str(path), path.stat().st_mtime, learner, model_files.scene(scenario))


def frozen_model(run_id: str) -> FrozenModel | None:
    """The run's model: a copy of a live job's current agent, or its checkpoint in the store. A checkpoint that
    cannot act in the run's scenario is said in one line, and the page compares baselines instead."""
    model = st.session_state.get("inspect:model")
    if model is not None and model.run_id == run_id:
        return model
    job, snap = registry().get(run_id), snapshot(run_id)
    if snap is None:
        return None
    trained_on = None
    if job is not None and job.status().active:
        policy = job.policy()
    else:
        try:
            policy, trained_on = stored_policy(run_id, snap.scenario, snap.train.algo)
        except (CheckpointError, MemoryLimitError) as e:
            st.error(f"This run's model cannot be replayed: {inert(one_line(e))}", icon=":material/error:")
            return None
    if policy is None:
        return None
    model = st.session_state["inspect:model"] = FrozenModel(run_id, snap.step, snap.train.algo, policy, trained_on)
    return model


def model_trace(model: FrozenModel, scenario: ScenarioConfig, seed: int, user: int) -> SessionTrace:
    if (seed, user) not in model.traces:
        model.traces[seed, user] = trace_session(scenario, model.policy, seed=seed, user=user, max_steps=MAX_STEPS)
    return model.traces[seed, user]


def refresh_model() -> None:
    st.session_state.pop("inspect:model", None)


def inspectable_runs() -> dict[str, str]:
    """Run id -> label (name, learner, state) of every run with a model: stored with a checkpoint, or training in
    this server now."""
    runs = store().list_runs()
    out = {}
    for run_id, name, learner, status in zip(runs["id"], runs["name"], runs["learner"], runs["status"], strict=True):
        job = registry().get(run_id)
        if (job is not None and job.status().step > 0) or store().checkpoint_path(run_id).is_file():
            state = STATES[status].label.lower() if status in STATES else status
            out[run_id] = f"{name} ({policies.label(learner)}, {state})"
    return out


def policy_name(p: str) -> str:
    """A trained learner is marked as such (its replay acts with what the run learned), a baseline by its name."""
    return f"{policies.label(p)} (trained)" if p in policies.learners() else policies.label(p)


def policy_help(options: list[str]) -> str:
    """What each kind of policy on offer is, from the registry: the oracles read the true model, the ceiling also
    plans ahead and is no rival."""
    kinds = dict.fromkeys(policies.POLICIES[p].kind for p in options)
    return "  \n".join(f"{', '.join(policies.label(p) for p in options if policies.POLICIES[p].kind == kind)}: "
                       f"{policies.KINDS[kind]}." for kind in kinds)


def summary(trace: SessionTrace, other: SessionTrace) -> None:
    st.markdown(f"#### {policy_name(trace.policy)}")
    cols = st.columns(3)
    cols[0].metric("Return", f"{trace.total_return:.3g}", delta=f"{trace.total_return - other.total_return:+.3g}")
    cols[1].metric("Clicks", trace.clicks, delta=trace.clicks - other.clicks)
    cols[2].metric("Steps", trace.length, delta=trace.length - other.length)
    st.caption(f"The session ended because {trace.end}.")


def step_view(trace: SessionTrace, t: int, world: World, side: str) -> None:
    """What the policy saw and did at step ``t`` (1-based), and what the user did; ``side`` (A or B) keys its chart,
    which is drawn twice alike when both policies show the same slate without Q-values."""
    st.markdown(f"#### {policy_name(trace.policy)}")
    if t > trace.length:
        st.info(f"This session ended at step {trace.length}: {trace.end}.", icon=":material/logout:")
        return
    row = trace.steps.iloc[t - 1]
    shown = ", ".join(item_label(world, i) for i in row["slate"])
    reaction = f"clicked **{item_label(world, row['clicked_item'])}**" if row["clicked"] else "did not click"
    st.markdown(f"Recommended **{shown}**; the user {reaction}. Reward **{row['reward']:.3g}**, "
                f"budget left **{row['budget_after']:.1f}** min (was {row['budget_before']:.1f}).")
    q = trace.q_TI[t - 1] if trace.q_TI is not None else None
    st.plotly_chart(plots.candidates_chart(q, trace.p_click_TI[t - 1], row["slate"], row["clicked_item"],
                                           clickbait_I=world.catalogue.clickbait_I), key=f"inspect:candidates:{side}")


header(
    "Inspect",
    "Averages hide the story; one user's session shows it. Pick a user and replay their session under two "
    "policies **with the same random draws**, so every difference comes from what was recommended. Watch "
    "where the DQN gives up an easy click to keep the user's session alive, and how each session moves the "
    "user's interests."
)

runs = inspectable_runs()
st.subheader("1 · Who, and which policies", divider="violet")
model = None
if runs:
    ids = list(runs)
    selected = selected_run_id()
    run_id = st.selectbox("Trained model", ids, index=ids.index(selected) if selected in ids else 0,
                          key="inspect:run", format_func=runs.get,
                          help="Any run with a model: trained here, with the CLI, or imported (Runs page).")
    model = frozen_model(run_id)
    snap = snapshot(run_id)
if model is not None and snap is not None:
    scenario = snap.scenario
    if warning := model_files.world_warning(model.trained_on, scenario, "This run's model"):
        st.warning(warning, icon=":material/warning:")
    if snap.active and snap.step > model.step:
        st.caption(f"Model as of step {model.step:,}; the run has trained further since.")
        st.button("Use the latest model", on_click=refresh_model, icon=":material/refresh:")
    options = [model.learner, *policies.fixed_policies()]
else:
    scenario, options = current_scenario(), policies.fixed_policies()
    st.info("No trained model yet, so two baselines are compared. Train a DQN or a rival learner on the **Train** "
            "page (or import a run on **Runs**) and it appears here.", icon=":material/info:")
world = build_world(scenario)
aud = world.audience

cols, kinds = st.columns(2), policy_help(options)
left_policy = cols[0].selectbox("Policy A", options, format_func=policy_name, key="inspect:a",
                                index=options.index(model.learner if model else "greedy"), help=kinds)
right_policy = cols[1].selectbox("Policy B", options, format_func=policy_name, key="inspect:b",
                                 index=options.index("oracle"), help=kinds)
cols = st.columns([1, 2, 1], vertical_alignment="bottom")
by = cols[0].segmented_control("Pick a user", ["segment", "user"], default="segment", required=True,
                               key="inspect:by", format_func={"segment": "From a segment", "user": "By id"}.get)
seed = cols[2].number_input("Seed", 0, 1_000_000, 0, key="inspect:seed",
                            help="Draws the user and every random event of the session (same for both policies)")
if by == "user":
    user = int(cols[1].number_input("User id", 0, aud.n_users - 1, 0, key="inspect:user"))
else:
    segment = cols[1].selectbox("Segment", range(aud.n_segments), format_func=lambda s: aud.names[s],
                                key="inspect:segment", help="A user of this segment, drawn with the seed")
    user = pick_user(scenario, int(seed), segment)
st.caption(f"User **{user}** of segment **{plain(aud.names[aud.segment_N[user]])}**, arriving with a session budget of "
           f"{aud.budget_N[user]:.1f} minutes.")


def trace_of(policy: str) -> SessionTrace:
    if model is not None and policy == model.learner:
        return model_trace(model, scenario, int(seed), user)
    return baseline_trace(scenario.to_json(), policy, int(seed), user)


a, b = trace_of(left_policy), trace_of(right_policy)

st.subheader("2 · The session at a glance", divider="violet")
left, right = st.columns(2)
with left:
    summary(a, b)
with right:
    summary(b, a)
st.plotly_chart(plots.session_chart({policy_name(a.policy) + " (A)": a.steps, policy_name(b.policy) + " (B)": b.steps}))

st.subheader("3 · Step by step", divider="violet")
st.caption("Bars are the best candidates of the step: coloured = recommended, outlined = clicked. The true click "
           "chance is the simulator's secret; the Q-value is what the DQN expects from here to the session's end.")
last = max(a.length, b.length)
if st.session_state.get("inspect:step", 1) > last:  # a shorter session than the last one shown
    st.session_state["inspect:step"] = 1
t = st.slider("Step", 1, last, 1, key="inspect:step") if last > 1 else 1
left, right = st.columns(2)
with left:
    step_view(a, t, world, "A")
with right:
    step_view(b, t, world, "B")

st.subheader("4 · How the user's interests drift", divider="violet")
left, right = st.columns(2)
for col, trace in ((left, a), (right, b)):
    col.plotly_chart(plots.interest_drift_chart(trace.interest_TK, title=policy_name(trace.policy),
                                                topic_labels=scenario.catalogue.topic_names))
interest_K = aud.interest_NK[user]
names = topic_names(len(interest_K), scenario.catalogue.topic_names)
liked = [f"{names[k]} ({interest_K[k]:+.2f})" for k in np.argsort(-interest_K)[:3] if interest_K[k] > 0.1]
likes = (f"This user started out liking {plain(', '.join(liked))}." if liked
         else "This user started out with no strong liking.")
st.caption("Each cell is how much the user's interest in a topic has moved since the session began (blue = "
           "towards liking, red = away); clicks pull interests toward the clicked item's topic (RecSim's interest "
           f"evolution), and the colour scale spans this session's largest change. {likes}")

with st.expander("Every step as a table"):
    left, right = st.columns(2)
    for col, trace in ((left, a), (right, b)):
        col.markdown(f"**{policy_name(trace.policy)}**")
        col.dataframe(session_frame(world, trace.steps), hide_index=True)
