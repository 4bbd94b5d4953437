"""Calibration in a real browser: upload a generated MovieLens-100k log, see the fit-vs-data report, open the fitted
scenario and train on it (issue 14)."""

from __future__ import annotations

import pytest

from dqn_sim.calibrate.synth import SynthSpec, write_log
from tests.conftest import ARTIFACTS
from tests.streamlit_server import goto_page, start_training, wait_idle

pytestmark = pytest.mark.browser


def test_upload_a_log_see_the_report_and_train_on_the_fitted_world(page, app_url: str, tmp_path) -> None:
    ratings, items, _ = write_log(SynthSpec(n_ratings=20_000, n_items=300, n_segments=3, seed=5), tmp_path)
    page.goto(app_url)
    wait_idle(page)
    main = page.get_by_test_id("stMain")
    main.get_by_text("Calibrate from logs").click()
    calibration = main.locator("[data-testid='stExpander']").filter(has_text="Calibrate from logs")
    inputs = calibration.locator("[data-testid='stFileUploaderDropzoneInput']")  # ratings, then item file
    inputs.nth(1).wait_for(state="attached")
    inputs.nth(0).set_input_files(str(ratings))
    wait_idle(page)
    inputs.nth(1).set_input_files(str(items))
    wait_idle(page)
    name = calibration.get_by_label("Scenario name")
    name.fill("browser-fit")
    name.press("Tab")
    wait_idle(page)
    calibration.get_by_role("button", name="Calibrate").click()
    calibration.get_by_text("Saved as").wait_for(timeout=120_000)
    wait_idle(page)
    calibration.get_by_text("How each quantity was fitted").wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=ARTIFACTS / "calibration_report.png", full_page=True)

    calibration.get_by_role("button", name="Open the fitted scenario in the form").click()
    wait_idle(page)
    goto_page(page, "Train")
    main.get_by_text("browser-fit").first.wait_for()
    start_training(page, {"Seeds": 1, "Total steps": 3000, "Evaluate every (user-steps)": 1500,
                          "Evaluation sessions": 16, "Learning starts after (user-steps)": 500})
    main.get_by_text("after", exact=False).filter(has_text="steps in").first.wait_for(timeout=180_000)
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=ARTIFACTS / "calibration_trained.png", full_page=True)
