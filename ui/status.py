"""How a training job's state is shown: badge, progress bar with ETA, and the sidebar card on every page."""

from __future__ import annotations

import streamlit as st

from dqn_sim.train.job import JobSnapshot
from ui.fmt import duration
from ui.state import active_job

POLL_S = 1.0  # live refresh period of the Train page while its job is active
SIDEBAR_POLL_S = 2.0  # the sidebar card: progress and ETA need no faster refresh
STATES = {  # state -> (label, badge colour, icon)
    "pending": ("Starting", "gray", ":material/hourglass_top:"),
    "running": ("Training", "blue", ":material/play_arrow:"),
    "paused": ("Paused", "orange", ":material/pause:"),
    "finished": ("Finished", "green", ":material/check_circle:"),
    "stopped": ("Stopped", "gray", ":material/stop_circle:"),
    "failed": ("Failed", "red", ":material/error:"),
    "diverged": ("Diverged", "red", ":material/warning:"),
    "interrupted": ("Interrupted", "gray", ":material/link_off:"),
}


def state_badge(state: str) -> None:
    text, color, icon = STATES.get(state, (state, "gray", None))
    st.badge(text, color=color, icon=icon)  # type: ignore[arg-type]


def progress_bar(snap: JobSnapshot) -> None:
    eta = f" · ETA {duration(snap.eta_s)}" if snap.active else f" · took {duration(snap.elapsed_s)}"
    st.progress(snap.progress, text=f"{snap.step:,} / {snap.total_steps:,} steps ({snap.progress:.0%}){eta}")


def sidebar_status() -> None:
    """The session's job on every page; refreshes itself while the job trains."""
    job = active_job()
    every = SIDEBAR_POLL_S if job is not None and job.snapshot().active else None

    @st.fragment(run_every=every)
    def card() -> None:
        job = active_job()
        if job is None:
            st.caption("No training job in this session yet. Start one on the **Train** page.")
            return
        snap = job.snapshot()
        st.markdown(f"**{snap.name}**")
        state_badge(snap.state)
        progress_bar(snap)
        if every is not None and not snap.active:
            st.rerun()  # the job ended: redraw the page once, which also stops the polling

    with st.sidebar.container(border=True):
        st.caption("Training job")
        card()
