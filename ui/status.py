"""How a run's state is shown: badge, progress bar with ETA, and the sidebar card on every page."""

from __future__ import annotations

import streamlit as st

from dqn_sim.runs import GroupView
from dqn_sim.train.job import JobSnapshot, JobStatus
from dqn_sim.vocab import STATES
from ui.fmt import duration
from ui.state import registry, run_group, selected_run_id, selected_snapshot

POLL_S = 1.0  # live refresh period of the Train page while its job is active
SIDEBAR_POLL_S = 2.0  # the sidebar card: progress and ETA need no faster refresh


def state_badge(state: str) -> None:
    look = STATES.get(state)
    st.badge(look.label if look else state, color=look.color if look else "gray",  # type: ignore[arg-type]
             icon=look.icon if look else None)


def progress_bar(snap: JobSnapshot | JobStatus | GroupView) -> None:
    if snap.state == "paused":
        tail = " · paused"
    elif snap.eta_s is not None:
        tail = f" · ETA {duration(snap.eta_s)}"
    elif snap.active:
        tail = ""
    else:
        startup = getattr(snap, "startup_s", None)
        tail = f" · took {duration(snap.elapsed_s)}" + (f" (after {startup:.1f} s starting)" if startup else "")
    st.progress(snap.progress, text=f"{snap.step:,} / {snap.total_steps:,} steps ({snap.progress:.0%}){tail}")


def sidebar_status() -> None:
    """The selected run (or run group) on every page; refreshes itself while it trains."""
    run_id = selected_run_id()
    entry = registry().get(run_id) or registry().group(run_id)
    every = SIDEBAR_POLL_S if entry is not None and entry.status().active else None

    @st.fragment(run_every=every)
    def card() -> None:
        snap = (run_group(run_id) or selected_snapshot()) if run_id else None
        if snap is None:
            st.caption("No run selected yet. Start one on the **Train** page, or pick a stored one on **Runs**.")
            return
        st.text(snap.name)  # a name is shown as text: never read as Markdown
        state_badge(snap.state)
        progress_bar(snap)
        if every is not None and not snap.active:
            st.rerun()  # the job ended: redraw the page once, which also stops the polling

    with st.sidebar.container(border=True):
        st.caption("Selected run")
        card()
