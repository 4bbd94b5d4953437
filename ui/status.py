"""How a run's state is shown: badge, progress bar with ETA, and the sidebar card on every page."""

from __future__ import annotations

import streamlit as st

from dqn_sim.runs import GroupView
from dqn_sim.train.job import JobSnapshot, JobStatus
from dqn_sim.vocab import QUEUED, STATES
from ui.fmt import duration, ordinal
from ui.state import registry, run_group, selected_run_id, selected_snapshot

POLL_S = 1.0  # live refresh period of the Train page while its job is active
SIDEBAR_POLL_S = 2.0  # the sidebar card: progress and ETA need no faster refresh


def state_look(state: str, run_id: str | None = None) -> tuple[str, str, str | None]:
    """A state's label, colour and icon. A run (group, sweep) waiting in the server's queue is still pending, but it
    reads "Queued (2nd)": "Starting" would say its process is starting, while it waits for a slot."""
    position = registry().position(run_id) if run_id and state == "pending" else None
    if position is not None:
        return f"{QUEUED.label} ({ordinal(position)})", QUEUED.color, QUEUED.icon
    look = STATES.get(state)
    return (look.label, look.color, look.icon) if look else (state, "gray", None)


def state_badge(state: str, run_id: str | None = None) -> None:
    """The badge of ``run_id``'s state (without an id, of the state alone: a stored run is never queued)."""
    label, color, icon = state_look(state, run_id)
    st.badge(label, color=color, icon=icon)  # type: ignore[arg-type]


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
        state_badge(snap.state, run_id)
        progress_bar(snap)
        if every is not None and not snap.active:
            st.rerun()  # the job ended: redraw the page once, which also stops the polling

    with st.sidebar.container(border=True):
        st.caption("Selected run")
        card()
