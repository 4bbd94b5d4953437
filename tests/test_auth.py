"""Issue #18: with Streamlit's built-in authentication configured (``st.login``, ``[auth]`` in secrets.toml), the
studio is for signed-in people, a run belongs to the account that started it (from any browser), and everyone else
watches. AppTest's ``user`` stands for ``st.user``: a ``is_logged_in`` key is what Streamlit adds once ``[auth]`` is
configured; without one (AppTest's default), authentication is off and nothing of it shows."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.test_app import APP, ENDLESS, QUICK, TIMEOUT, fresh_app, open_page, start, texts  # noqa: F401  (fixture)
from ui.fmt import plain
from ui.state import registry, store

ANN = {"is_logged_in": True, "email": "ann@example.com", "name": "Ann"}
BOB = {"is_logged_in": True, "email": "bob@example.com", "name": "Bob"}


def as_user(user: dict, run_id: str | None = None, page: str = "pages/train.py") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.user = dict(user)
    if run_id:
        at.query_params["run"] = run_id
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    return at


def test_someone_not_signed_in_sees_only_the_sign_in_button() -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.text_input and not at.number_input and not at.selectbox  # no page was drawn


def test_a_run_belongs_to_the_account_that_started_it_in_any_browser_and_others_watch() -> None:
    ann = as_user(ANN)
    assert any("Signed in as ann@example.com" in c for c in texts(ann.sidebar.caption))
    run_id = start(ann, ENDLESS)
    assert registry().owner(run_id) == "user:ann@example.com"
    again = as_user(ANN, run_id)  # Ann in another browser: a session of its own, the same account
    assert {"Pause", "Stop"} <= {b.label for b in again.button}
    bob = as_user(BOB, run_id)
    assert not {"Pause", "Resume", "Stop"} & {b.label for b in bob.button}
    assert any("Started by ann@example.com: you can watch it, not steer it" in c for c in texts(bob.caption))
    assert registry().get(run_id).status().active


def test_the_runs_page_says_which_account_started_a_run_and_a_visitor_not_signed_in_is_stored_as_nobody() -> None:
    """Who started a run is kept in the store, so it outlives the server's memory of its owner."""
    run_id = start(as_user(ANN), QUICK)
    bob = as_user(BOB, page="pages/runs.py")
    assert bob.dataframe[0].value.set_index("id").loc[run_id, "started_by"] == "ann@example.com"
    bob.selectbox(key="runs:pick").select(run_id).run()
    assert any("started by ann@example.com" in c for c in texts(bob.caption))
    anonymous = start(open_page("pages/train.py"), QUICK)  # authentication off: a browser, whose token names nobody
    assert store().get_run(anonymous)["started_by"] is None


def test_without_authentication_configured_nothing_of_it_shows() -> None:
    at = open_page("pages/train.py")  # AppTest's default user has no is_logged_in: [auth] is not configured
    assert not {"Sign in", "Sign out"} & {b.label for b in at.button}


def test_a_queued_start_names_the_runs_ahead_and_whose_they_are(monkeypatch) -> None:
    """Issue #18's queue note: its place, the runs holding the slots with their owners and ends, and the runs
    waiting before it with their owners."""
    monkeypatch.setenv("DQN_SIM_MAX_JOBS", "1")
    ann_id = start(as_user(ANN), ENDLESS)  # holds the server's one slot
    bob = as_user(BOB)
    bob.number_input(key="train:seeds").set_value(1)
    bob.button(key="train:start").click().run()
    carl = as_user({"is_logged_in": True, "email": "carl@example.com"})
    carl.number_input(key="train:seeds").set_value(1)
    carl.button(key="train:start").click().run()
    assert not carl.exception and registry().queued(carl.session_state["run_id"]).position == 2
    [note] = [i for i in texts(carl.info) if "Queued" in i]
    ann_name, bob_name = (plain(registry().get(i).name) for i in (ann_id, bob.session_state["run_id"]))
    assert note.startswith("**Queued, number 2**: all 1 training slots of this server are taken "
                           f"({ann_name} (ann@example.com, "), note
    assert f"1 run(s) wait before this one ({bob_name} (bob@example.com))." in note, note
