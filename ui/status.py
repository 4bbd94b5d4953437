"""How a training job's state is shown: badge, progress bar with ETA, and the sidebar card on every page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import streamlit as st

from dqn_sim.train.foreground import FOREGROUND
from dqn_sim.train.job import JobSnapshot
from ui.fmt import duration
from ui.state import active_job

P = ParamSpec("P")
R = TypeVar("R")
CLICKED = "ui:clicked"  # session flag: the coming rerun answers a click
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


def clicked() -> None:
    """Widget callback: the rerun that follows answers a click (see ``foreground_when_clicked``)."""
    st.session_state[CLICKED] = True


def act(action: Callable[[], object]) -> None:
    """Button callback: do ``action`` and answer the click in the foreground."""
    clicked()
    action()


def foreground_when_clicked(render: Callable[P, R]) -> Callable[P, R]:
    """A fragment that refreshes itself: its periodic runs draw beside training (they cost the trainer nothing
    but shared time), while a run that answers a click holds ``FOREGROUND`` so the person gets the interpreter.
    Whole-page runs (navigation, forms) always hold it: see ``app.py``."""

    @wraps(render)
    def drawing(*args: P.args, **kwargs: P.kwargs) -> R:
        draw = FOREGROUND(render) if st.session_state.pop(CLICKED, False) else render
        return draw(*args, **kwargs)

    return drawing
