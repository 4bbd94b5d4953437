"""Signing in, where the studio is configured with Streamlit's built-in authentication (``st.login``: OpenID Connect,
with ``[auth]`` in ``.streamlit/secrets.toml``; it needs ``Authlib``, in requirements.txt).

Configured, the studio is for signed-in people only: a visitor sees a sign-in button and nothing else, and each
person is their account (``ui.state.who``), so the runs they start are theirs whichever browser they use, and the
same rules as without it decide who may pause or stop a run. Not configured, nothing here shows: a person is their
browser. No password of the studio's own.
"""

from __future__ import annotations

import streamlit as st

from ui.fmt import plain


def configured() -> bool:
    """Whether Streamlit's authentication is configured: ``st.user`` then says whether someone is signed in."""
    return "is_logged_in" in st.user


def require_sign_in() -> None:
    """With authentication configured: stop the script at a sign-in button for someone not signed in, and show a
    signed-in person who they are, with a sign-out button, in the sidebar. Without it, nothing."""
    if not configured():
        return
    if not st.user.is_logged_in:
        st.title("DQN recommender studio")
        st.markdown("This studio is shared by a team: sign in to train, watch and compare runs. The runs you "
                    "start are yours to pause and stop; everyone else can watch them.")
        st.button("Sign in", type="primary", icon=":material/login:", on_click=st.login, key="auth:login")
        st.stop()
    with st.sidebar, st.container(horizontal=True, vertical_alignment="center"):
        st.caption(f"Signed in as {plain(st.user.get('email') or st.user.get('name') or st.user.get('sub'))}")
        st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="auth:logout")
