"""The studio's entry point: page navigation, theme, and the session's training job in the sidebar.

Run with ``streamlit run app.py``. Every page is a thin script in ``pages/``; the engine is ``dqn_sim``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dqn_sim.errors import one_line
from dqn_sim.store import StoreError
from ui.auth import require_sign_in
from ui.fmt import inert
from ui.state import attach_run, registry, store
from ui.status import sidebar_status

ROOT = Path(__file__).resolve().parent
ASSETS = ROOT / "assets"

st.set_page_config(page_title="DQN recommender studio", page_icon=":material/recommend:", layout="wide")
st.html(ASSETS / "style.css")
st.logo(str(ASSETS / "logo.svg"), size="large")
require_sign_in()  # where Streamlit's authentication is configured ([auth] in .streamlit/secrets.toml)
try:
    store()
except StoreError as e:  # read-only, newer, not a folder...: say which store and why (Streamlit would redact it)
    st.error(f"The run store cannot be used: {inert(one_line(e))}", icon=":material/error:")
    st.stop()

PAGES = [
    st.Page("pages/scenario.py", title="Scenario", icon=":material/tune:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/inspect.py", title="Inspect", icon=":material/person_search:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/leaderboard:"),
    st.Page("pages/sweep.py", title="Sweep", icon=":material/travel_explore:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
]
page = st.navigation(PAGES)
attach_run()
# what opening the run store had to repair (a damaged database moved aside), limits of the environment refused
for warning in (*store().warnings, *registry().warnings):
    st.sidebar.warning(inert(warning), icon=":material/warning:")
sidebar_status()
page.run()
