"""Demo-ready (#12) in a real browser at 1440x900: the Scenario page's sample tables fit their width, and a choice
on the Train form (the ε schedule) shows its own knobs at once while every typed value still reaches the run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dqn_sim.store import RunStore
from tests.browser_steps import choose, fill_form, main, open_tab, run_id, shot, wait_for
from tests.streamlit_server import goto_page, wait_idle

pytestmark = pytest.mark.browser

WINDOW = {"width": 1440, "height": 900}
SAMPLES = ["Sample items", "Sample users", "Sample session"]
# the table's own scroller (glide data grid): wider content than box means columns cut off on the right
TABLE_WIDTHS = """() => [...document.querySelectorAll("[data-testid='stDataFrame']")].filter(e => e.offsetParent)
    .map(e => { const s = e.querySelector('.dvn-scroller'); return [s.scrollWidth, s.clientWidth]; })"""
RATE, PERIOD = "ε decay rate (exponential schedule only)", "ε decay period (exponential schedule only)"
QUICK_RUN = {"Seeds": 1, "Total steps": 3000, "Learning starts after (user-steps)": 500,
             "Evaluate every (user-steps)": 1500, "Evaluation sessions": 16}


def choose_preset(page, title: str) -> None:
    box = main(page).get_by_role("combobox", name="Preset", exact=True)
    box.click()
    box.fill(title)
    page.keyboard.press("Enter")
    wait_idle(page)


@pytest.mark.parametrize("preset", ["Short video", "Live streams"])  # live has the most item columns
def test_sample_tables_are_not_cut_off_on_the_right(page, app_url: str, preset: str) -> None:
    page.set_viewport_size(WINDOW)
    page.goto(app_url)
    wait_idle(page)
    goto_page(page, "Scenario")
    choose_preset(page, preset)
    for tab in SAMPLES:
        open_tab(page, tab)
        time.sleep(1.0)  # the grid lays out its columns after it is shown
        widths = page.evaluate(TABLE_WIDTHS)
        assert widths, f"{preset}: no table under {tab}"
        assert all(scroll <= client for scroll, client in widths), f"{preset}, {tab}: {widths}"
    if preset == "Short video":
        open_tab(page, "Sample items")
        shot(page, "demo_scenario_samples.png", at=main(page).get_by_role("tab", name="Sample items"))


def test_a_schedule_choice_shows_its_knobs_at_once_and_typed_values_reach_the_run(
    page, app_url: str, app_home: Path,
) -> None:
    page.set_viewport_size(WINDOW)
    page.goto(app_url)
    wait_idle(page)
    goto_page(page, "Train")
    fill_form(page, {"Run": QUICK_RUN})  # typed, not yet applied: it waits for Start
    open_tab(page, "Exploration")
    assert main(page).get_by_role("spinbutton", name=RATE, exact=True).count() == 0  # linear: no decay rate
    choose(page, "ε schedule", "exponential")  # reruns the page at once, though nothing was started
    wait_for(lambda: main(page).get_by_role("spinbutton", name=RATE, exact=True).count() == 1,
             what="the exponential schedule's decay rate")
    assert main(page).get_by_role("spinbutton", name="ε decay fraction (linear schedule only)").count() == 0
    shot(page, "demo_train_exponential_schedule.png", at=main(page).get_by_role("spinbutton", name=RATE))
    fill_form(page, {"Exploration": {PERIOD: 250}})
    open_tab(page, "Run")
    total = main(page).get_by_role("spinbutton", name="Total steps", exact=True)
    assert total.input_value().replace(",", "") == "3000"  # the choice's rerun kept what was typed before it
    before = run_id(page)
    page.get_by_role("button", name="Start training").click()
    wait_for(lambda: run_id(page) not in (None, before), what="the new run's id in the URL")
    with RunStore(app_home) as store:
        run = store.get_run(run_id(page))
    assert (run["agent"].eps_schedule, run["agent"].eps_decay_period) == ("exponential", 250)
    assert run["train"].total_steps == 3000
