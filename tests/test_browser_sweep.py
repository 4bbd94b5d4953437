"""Issue #8's Sweep page in a real browser, on a server of its own with two training slots (``DQN_SIM_MAX_JOBS=2``):

- the Train form is made small (tiny evaluations, early learning) and a long run started: it holds one slot;
- on Sweep, the knobs are picked and their ranges narrowed with the page's controls (a reversed range is refused
  under its field first), a 3-trial sweep with two trials at once is started: it needs both slots, so it waits,
  "Queued, number 1";
- the long run is stopped on Train, and the sweep starts by itself; back on Sweep the form is as it was left, and
  the sweep's table fills with trials (state, the sampled values, the value);
- Stop once a trial has completed and another runs: the running one is failed and queued again, the page offers
  Resume; Resume runs the sweep to its three trials;
- the four charts (learning curves, history, parallel coordinates, importance) are drawn;
- "Train this configuration" opens Train with the best trial's values in the form and the settings' own budget.

Screenshots: ``tests/artifacts/sweep_*.png``; timings are printed (``pytest -s``) and written to
``tests/artifacts/sweep_timings.json``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest

from tests.browser_steps import (
    assert_no_exception,
    choose,
    full_shot,
    main,
    main_text,
    open_tab,
    screenshot_on_failure,
    shot,
    start_run,
    table_rows,
    wait_for,
)
from tests.conftest import ARTIFACTS, app_with_slots
from tests.streamlit_server import goto_page, wait_idle

pytestmark = pytest.mark.browser

SLOTS = 2
PAGE_TIMEOUT_S = 60
WAIT_S = 3 * PAGE_TIMEOUT_S  # two loaded cores: generous, and every wait says what did not happen
# the session's Train settings the sweep starts from: small evaluations and early learning, so a 2,000-step trial
# trains in seconds; a long budget, so the run started with them holds its slot until the test stops it
LONG_TOTAL = 10_000_000
SETTINGS = {"Seeds": 1, "Total steps": LONG_TOTAL, "Evaluate every (user-steps)": 1000, "Evaluation sessions": 10,
            "Log every (user-steps between chart points)": 500, "Learning starts after (user-steps)": 256}
LR, GAMMA = "Learning rate", "Discount γ (weight of the future)"
KNOBS = {LR: "agent.lr", GAMMA: "agent.gamma"}
RANGES = {LR: ("1e-4:3e-3:log", 1e-4, 3e-3), GAMMA: ("0.8:0.99", 0.8, 0.99)}
TRIALS, AT_ONCE, STEPS = 3, 2, 8000  # long enough that Stop lands while a trial trains
NAME = "browser-sweep"
QUEUED = re.compile(r"Queued, number (\d+)")
BEST = re.compile(r"Best so far: ([-\d.e+]+) with (.+)")
FIGURES = {"Learning curves": "Intermediate Values Plot", "Optimisation history": "Optimization History Plot",
           "Parallel coordinates": "Parallel Coordinate Plot", "Parameter importance": "Hyperparameter Importances"}


@pytest.fixture(scope="module")
def two_slot_url(tmp_path_factory) -> Iterator[str]:
    """A server of its own with two training slots, whatever the machine's cores, and its own stores."""
    yield from app_with_slots(tmp_path_factory, "sweep", SLOTS)


@pytest.fixture
def window(browser, two_slot_url: str):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(WAIT_S * 1000)
    tab.goto(two_slot_url)
    wait_idle(tab)
    yield tab
    context.close()


def trials(page) -> list[dict[str, str]]:
    """The sweep's trial table as the page shows it: one {column: cell} per trial."""
    rows = table_rows(page)
    if len(rows) < 2:
        return []
    header = [h.strip() for h in rows[0]]
    return [dict(zip(header, (c.strip() for c in row), strict=False)) for row in rows[1:]
            if any(c.strip() for c in row)]


def states(page) -> list[str]:
    return [t.get("state", "") for t in trials(page)]


BADGES = ("Queued (1st)", "Starting", "Training", "stopping", "Stopped", "Finished", "Failed")  # states' labels


def badge(page) -> str:
    """The sweep's state as its badge says it: the page's only text that is just a state's label (after the name of
    its icon, which Material Symbols draw from text)."""
    return next((label for label in BADGES
                 if main(page).get_by_text(re.compile(rf"^(\w+\s*)?{re.escape(label)}$")).count()), "")


def pick_knobs(page, knobs: list[tuple[str, str]]) -> None:
    """Make exactly these the searched knobs, as a person does in a long list: clear it, then for each type its
    path to filter the list and click the option."""
    box = main(page).get_by_test_id("stMultiSelect").filter(has=page.get_by_role("combobox", name="Knobs"))
    box.get_by_role("button", name="Clear all").click()
    wait_idle(page)
    for label, path in knobs:
        box.get_by_role("combobox").click()
        page.keyboard.type(path)
        page.get_by_role("option", name=f"{label} · {path}", exact=True).click()
        wait_idle(page)
        page.keyboard.press("Escape")
    chosen = box.get_by_role("group", name="Selected values").inner_text()
    assert all(f"{label} · {path}" in chosen for label, path in knobs), chosen


def range_field(page, label: str):
    return main(page).get_by_role("textbox", name=f"{label} · {KNOBS[label]}", exact=True)


def type_range(page, label: str, text: str) -> None:
    field = range_field(page, label)
    field.fill(text)
    field.press("Tab")
    wait_idle(page)


def number(page, label: str, value: int) -> None:
    field = main(page).get_by_role("spinbutton", name=label, exact=True)
    field.fill(str(value))
    field.press("Tab")
    wait_idle(page)


def test_a_sweep_picked_started_queued_stopped_resumed_and_its_best_trained(window) -> None:
    with screenshot_on_failure(window, "sweep_FAILED.png"):
        sweep(window)


def sweep(page) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()

    # Train: the settings the sweep starts from, and a long run that holds one of the two slots
    goto_page(page, "Train")
    start_run(page, SETTINGS)
    wait_for(lambda: "Training" in main_text(page), WAIT_S, what="the long run to train on the Train page")

    # Sweep: pick the knobs and narrow their ranges with the page's own controls
    goto_page(page, "Sweep")
    assert_no_exception(page)
    pick_knobs(page, list(KNOBS.items()))
    assert range_field(page, LR).input_value() == "1e-07:1:log"  # the knob's whole allowed range, in log
    type_range(page, GAMMA, "0.99:0.8")
    refused = main(page).get_by_text("the range's low end 0.99 must be below its high end 0.8")
    refused.wait_for(timeout=WAIT_S * 1000)
    wait_for(main(page).get_by_role("button", name="Start sweep").is_disabled, WAIT_S,
             what="Start sweep to be disabled while a range is refused")
    for label, (text, _, _) in RANGES.items():
        type_range(page, label, text)
    start = main(page).get_by_role("button", name="Start sweep")
    wait_for(lambda: not refused.count() and start.is_enabled(), WAIT_S,
             what="the refusal to go and Start sweep to be enabled once the ranges are fixed")
    for label, value in {"Trials": TRIALS, "Steps per seed": STEPS, "Trials at once": AT_ONCE}.items():
        number(page, label, value)
    choose(page, "Pruner", "None (every trial runs its budget)")
    name = main(page).get_by_role("textbox", name="Name", exact=True)
    name.fill(NAME)
    name.press("Tab")
    wait_idle(page)
    shot(page, "sweep_1_picked.png")

    # start: two trials at once need both slots, one is the long run's, so the sweep waits its turn
    clicked = time.monotonic()
    start.click()
    queued = main(page).get_by_test_id("stAlert").filter(has_text=QUEUED)
    queued.wait_for(timeout=WAIT_S * 1000)
    note = queued.inner_text()
    assert QUEUED.search(note).group(1) == "1" and f"needs {AT_ONCE} of this server's {SLOTS} training slots" in note
    assert badge(page) == "Queued (1st)" and not trials(page), (badge(page), trials(page))
    assert_no_exception(page)
    shot(page, "sweep_2_queued.png", queued)

    # the long run stops on Train: the sweep takes the two slots by itself
    goto_page(page, "Train")
    main(page).get_by_role("button", name="Stop", exact=True).click()
    main(page).get_by_text(re.compile(r"Stopped after [\d,]+ steps")).wait_for(timeout=WAIT_S * 1000)
    stopped = time.monotonic()
    goto_page(page, "Sweep")
    assert range_field(page, LR).input_value() == RANGES[LR][0]  # the form as it was left, not reset by the switch
    assert main(page).get_by_role("textbox", name="Name", exact=True).input_value() == NAME
    wait_for(lambda: "running" in states(page), WAIT_S, what="a trial running after the long run was stopped")
    timings["run_stop_to_trial_running_s"] = round(time.monotonic() - stopped, 1)
    wait_for(lambda: not main(page).get_by_text(QUEUED).count() and badge(page) == "Training", WAIT_S,
             what="the queue note to go and the badge to say Training")
    running = [t for t in trials(page) if t["state"] == "running"]
    assert 1 <= len(running) <= AT_ONCE, trials(page)
    shot(page, "sweep_3_running.png", main(page).get_by_test_id("stDataFrame").first)

    # the table fills: a trial completes with its value and the values drawn inside the narrowed ranges
    def one_done_one_running() -> bool:
        now = states(page)
        return "complete" in now and "running" in now

    wait_for(one_done_one_running, WAIT_S, what="a complete trial while another still runs")
    timings["start_click_to_first_complete_s"] = round(time.monotonic() - clicked, 1)
    for t in trials(page):
        for label, (_, lo, hi) in RANGES.items():
            if t.get(KNOBS[label]):
                assert lo * 0.999 <= float(t[KNOBS[label]]) <= hi * 1.001, (label, t)
        if t["state"] == "complete":
            float(t["value"])  # a number is shown
    wait_for(lambda: re.search(rf"\b[12] / {TRIALS} trials done", main_text(page)), WAIT_S,
             what="the progress to count the completed trial")  # read a moment after the table, in the same redraw

    # Stop: the running trial ends, failed and queued again; Resume is offered
    main(page).get_by_role("button", name="Stop", exact=True).click()
    resume = main(page).get_by_role("button", name="Resume", exact=True)
    resume.wait_for(timeout=WAIT_S * 1000)
    wait_for(lambda: badge(page) == "Stopped", WAIT_S, what="the sweep's badge to say Stopped")
    wait_for(lambda: not main(page).get_by_role("button", name="Stop", exact=True).count(), PAGE_TIMEOUT_S,
             what="Stop to go once the sweep has stopped")
    rows = trials(page)
    failed = [t for t in rows if t["state"] == "fail"]
    assert failed and all("interrupted: queued again" in t.get("error", "") for t in failed), json.dumps(rows)
    assert "waiting" in states(page), json.dumps(rows)  # its values wait for the resumed sweep
    assert_no_exception(page)
    full_shot(page, "sweep_4_stopped.png")

    resumed = time.monotonic()
    resume.click()
    wait_for(lambda: badge(page) == "Finished", WAIT_S * 2, what=f"the resumed sweep to finish its {TRIALS} trials")
    timings["resume_to_finished_s"] = round(time.monotonic() - resumed, 1)
    wait_idle(page)
    assert f"{TRIALS} / {TRIALS} trials done" in main_text(page), main_text(page)
    assert states(page).count("complete") == TRIALS and "waiting" not in states(page), trials(page)
    assert not main(page).get_by_role("button", name="Resume", exact=True).count()

    # the charts: each tab draws Optuna's figure (none says it waits for more trials)
    for tab, title in FIGURES.items():
        open_tab(page, tab)
        panel = main(page).locator("[role='tabpanel']:visible").first
        panel.locator(".js-plotly-plot").first.wait_for(timeout=WAIT_S * 1000)
        panel.get_by_text(title).first.wait_for(timeout=WAIT_S * 1000)
        assert "once" not in panel.inner_text(), panel.inner_text()
        shot(page, f"sweep_5_{tab.lower().replace(' ', '_')}.png", panel)
    assert_no_exception(page)

    # the best trial, as the page names it, trained for real: Train opens with its values
    best = main(page).get_by_text(BEST)
    value, shown = BEST.search(best.inner_text()).groups()
    picked = dict(part.split(" = ") for part in shown.split(", "))
    table = {t["trial"]: t for t in trials(page) if t["state"] == "complete"}
    assert max(float(t["value"]) for t in table.values()) == pytest.approx(float(value), rel=1e-3, abs=1e-3)
    full_shot(page, "sweep_6_finished.png")
    main(page).get_by_role("button", name="Train this configuration").click()
    page.get_by_role("heading", name="Train", level=1).wait_for(timeout=WAIT_S * 1000)
    wait_idle(page)
    open_tab(page, "Learning")
    for label, path in KNOBS.items():
        field = main(page).get_by_role("spinbutton", name=label, exact=True)
        assert float(field.input_value()) == pytest.approx(float(picked[path]), rel=1e-3), (label, picked)
    shot(page, "sweep_7_train_best.png", main(page).get_by_role("spinbutton", name=LR, exact=True))
    open_tab(page, "Run")
    total = main(page).get_by_role("spinbutton", name="Total steps", exact=True).input_value()
    assert int(total.replace(",", "")) == LONG_TOTAL, total  # the settings' own budget, not a trial's
    assert_no_exception(page)

    timings["total_s"] = round(time.monotonic() - t0, 1)
    report = {**timings, "best": {"value": value, "params": picked}, "trials": trials_seen(table)}
    (ARTIFACTS / "sweep_timings.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print("\nsweep:", json.dumps(report, indent=2, ensure_ascii=False))


def trials_seen(table: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    return [{k: t.get(k, "") for k in ("trial", "state", "value", *KNOBS.values())} for t in table.values()]

