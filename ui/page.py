"""The opening of every page: make sure the app's navigation is in charge, then title and story."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def require_entry_point() -> None:
    """Rerun through ``app.py`` when Streamlit ran this page file on its own.

    With a ``pages/`` folder, Streamlit 1.67 starts every server in legacy multipage mode until some run
    calls ``st.navigation``; if the first request after a (re)start is a page URL (a reload of
    ``/train?run=...``), the page runs without ``app.py``: no sidebar status, no theme, no job reattached.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def header(title: str, story: str) -> None:
    require_entry_point()
    st.title(title)
    st.markdown(story)
