"""Issue #18: one studio, several people. Four browser contexts (four cookies, so four owners) on a server of its own
with two training slots (``DQN_SIM_MAX_JOBS=2``):

- A and B start long runs and hold both slots; C's start waits: "Queued, number 1";
- D browses Compare (its three sections), Inspect and Runs while every run is young (no DQN evaluation yet);
- B opens A's run by its URL: no Pause / Stop, "you can watch it, not steer it", and the view follows A's run;
- A stops, and C's run starts by itself: C's page shows it training without a click;
- D visits Compare again while C's run is young;
- B opens its own run's link again (a new page load): its Pause / Stop are still there.

Timings (A's click to its first step, C's wait in the queue, A's stop to C's first step…) are printed
(``pytest -s``) and written to ``tests/artifacts/multiuser_timings.json``; screenshots are
``tests/artifacts/multiuser_*.png``. The long runs are stopped by the test (the server's end also ends them).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest

from tests.browser_steps import (
    assert_no_exception,
    main,
    open_section,
    run_id,
    screenshot_on_failure,
    shot,
    start_run,
    steps_shown,
    wait_for,
)
from tests.conftest import ARTIFACTS, app_with_slots
from tests.streamlit_server import goto_page, wait_idle

pytestmark = pytest.mark.browser

SLOTS = 2
# long enough to hold a slot for the whole test (stopped by it), with no DQN evaluation before the end: young runs
LONG = {"Seeds": 1, "Total steps": 5_000_000, "Evaluate every (user-steps)": 5_000_000, "Evaluation sessions": 16,
        "Log every (user-steps between chart points)": 1_000}
WAIT_S = 120  # two cores shared with other work: generous
QUEUED = re.compile(r"Queued, number (\d+)")
WATCH_ONLY = "you can watch it, not steer it"


@pytest.fixture(scope="module")
def two_slot_url(tmp_path_factory) -> Iterator[str]:
    """A server of its own with two training slots, whatever the machine's cores, and its own stores."""
    yield from app_with_slots(tmp_path_factory, "multiuser", SLOTS)


@pytest.fixture
def people(browser, two_slot_url: str) -> Iterator[dict]:
    """Four people, each in a browser context of their own (their own cookies), at the studio's home page."""
    contexts = {who: browser.new_context(viewport={"width": 1440, "height": 900}) for who in "ABCD"}
    pages = {}
    for who, context in contexts.items():
        pages[who] = context.new_page()
        pages[who].set_default_timeout(WAIT_S * 1000)
        pages[who].goto(two_slot_url)
        wait_idle(pages[who])
    yield pages
    for context in contexts.values():
        context.close()


def controls_shown(page) -> list[str]:
    return [name for name in ("Pause", "Resume", "Stop")
            if main(page).get_by_role("button", name=name, exact=True).count()]


def browse_while_young(page, label: str) -> None:
    """Compare (each of its sections), Inspect and Runs, none showing an exception, while a run is young."""
    goto_page(page, "Compare")
    assert_no_exception(page)
    young = main(page).get_by_text("the DQN's first evaluation comes after")
    if young.count():  # the one-run view of a run without a DQN evaluation says so
        shot(page, f"multiuser_{label}_compare_young.png", young.first)
    for section in ("^A or B", "^Across stored runs"):
        open_section(page, re.compile(section))
        assert_no_exception(page)
    shot(page, f"multiuser_{label}_compare_across.png")
    for title in ("Inspect", "Runs"):
        goto_page(page, title)
        assert_no_exception(page)


def test_four_people_share_two_slots(people, two_slot_url: str) -> None:
    with screenshot_on_failure(people["C"], "multiuser_FAILED_C.png"), \
            screenshot_on_failure(people["B"], "multiuser_FAILED_B.png"):
        four_people(people, two_slot_url)


def four_people(people: dict, url: str) -> None:
    a, b, c, d = (people[who] for who in "ABCD")
    timings: dict[str, float | str] = {}

    # A and B take the two slots
    for page in (a, b):
        goto_page(page, "Train")
    clicked = start_run(a, LONG)
    a_id = run_id(a)
    wait_for(lambda: steps_shown(a) > 0, WAIT_S, what="A's first steps")
    timings["A_click_to_first_step_s"] = round(time.monotonic() - clicked, 2)
    clicked = start_run(b, LONG)
    b_id = run_id(b)
    wait_for(lambda: steps_shown(b) > 0, WAIT_S, what="B's first steps")
    timings["B_click_to_first_step_s"] = round(time.monotonic() - clicked, 2)
    assert controls_shown(a) == ["Pause", "Stop"] and controls_shown(b) == ["Pause", "Stop"]

    # C's start waits in the queue, and is told where it stands
    goto_page(c, "Train")
    clicked = start_run(c, LONG)
    c_id = run_id(c)
    note = main(c).get_by_test_id("stAlert").filter(has_text=QUEUED)
    note.wait_for()
    queued_at = time.monotonic()
    timings["C_click_to_queue_note_s"] = round(queued_at - clicked, 2)
    text = note.inner_text()
    assert QUEUED.search(text).group(1) == "1", text
    assert f"all {SLOTS} training slots" in text, text
    assert steps_shown(c) == 0
    shot(c, "multiuser_1_C_queued.png", note)

    # D browses every view that lists runs while A's and B's are young (no DQN evaluation yet)
    browse_while_young(d, "2_D")

    # B opens A's run by its link: it watches, it cannot steer, and the view follows the run
    b.goto(f"{url}/train?run={a_id}")
    wait_idle(b)
    caption = main(b).get_by_text(WATCH_ONLY)
    caption.wait_for()
    assert controls_shown(b) == [], f"B sees {controls_shown(b)} on A's run"
    assert "Started by another studio visitor" in caption.inner_text()
    seen = steps_shown(b)
    watched_at = time.monotonic()
    shot(b, "multiuser_3_B_watches_A.png", caption)
    wait_for(lambda: steps_shown(b) > seen, 30, what="B's view of A's run to move on by itself")
    timings["B_view_of_A_moves_after_s"] = round(time.monotonic() - watched_at, 2)
    assert_no_exception(b)

    # A stops: C's run takes the freed slot by itself, and C's page shows it training
    stopped = time.monotonic()
    main(a).get_by_role("button", name="Stop", exact=True).click()
    main(a).get_by_text(re.compile(r"Stopped after [\d,]+ steps")).wait_for()
    timings["A_stop_click_to_stopped_shown_s"] = round(time.monotonic() - stopped, 2)
    wait_for(lambda: main(c).get_by_text(QUEUED).count() == 0, WAIT_S, what="C's queue note to go")
    timings["A_stop_to_C_queue_note_gone_s"] = round(time.monotonic() - stopped, 2)
    wait_for(lambda: steps_shown(c) > 0, WAIT_S, what="C's run to train")
    started = time.monotonic()
    timings["A_stop_to_C_first_step_shown_s"] = round(started - stopped, 2)
    timings["C_queue_note_to_first_step_shown_s"] = round(started - queued_at, 2)
    assert run_id(c) == c_id
    assert controls_shown(c) == ["Pause", "Stop"]
    assert_no_exception(c)
    shot(c, "multiuser_4_C_training.png", main(c).get_by_test_id("stProgress").first)

    # D again, while C's run is young
    browse_while_young(d, "5_D")

    # B goes back to its own run by its link (a new page load, as a reload is): its controls are still its own
    b.goto(f"{url}/train?run={b_id}")
    wait_idle(b)
    main(b).get_by_role("button", name="Stop", exact=True).wait_for(timeout=30_000)
    assert controls_shown(b) == ["Pause", "Stop"] and main(b).get_by_text(WATCH_ONLY).count() == 0
    # the owners stop their runs
    for page in (b, c):
        main(page).get_by_role("button", name="Stop", exact=True).click()
        main(page).get_by_text(re.compile(r"Stopped after [\d,]+ steps")).wait_for()
        assert_no_exception(page)

    report = {**timings, "runs": {"A": a_id, "B": b_id, "C": c_id}}
    (ARTIFACTS / "multiuser_timings.json").write_text(json.dumps(report, indent=2))
    print("\nmulti-user timings:", json.dumps(report, indent=2))
