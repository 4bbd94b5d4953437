"""The opening of every page: make sure the app's navigation is in charge, then title and story."""

from __future__ import annotations

import runpy
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

APP = Path(__file__).resolve().parent.parent / "app.py"


def require_entry_point() -> None:
    """Run ``app.py`` (which runs this page through ``st.navigation``) when Streamlit ran the page alone.

    With a ``pages/`` folder, Streamlit 1.67 runs in legacy multipage mode until some run calls
    ``st.navigation``: the first request after a server start that is a page URL, and every ``AppTest``
    run after ``switch_page``, execute the page file without ``app.py`` (no theme, no sidebar, no job
    reattached). Running the entry point in place, in the same run, keeps that run's button clicks.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        runpy.run_path(str(APP), run_name="__main__")
        st.stop()


def header(title: str, story: str) -> None:
    """The title and, unless empty (a page may fold it away), the story."""
    require_entry_point()
    st.title(title)
    if story:
        st.markdown(story)
