"""Read, fit, simulate, compare: the one calibration run the CLI and the studio share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dqn_sim.calibrate.fit import Fit, FitOptions, fit_scenario
from dqn_sim.calibrate.readers import read_interactions
from dqn_sim.calibrate.report import Report, compare
from dqn_sim.calibrate.simulate import simulate
from dqn_sim.config import ScenarioConfig

REPORT_SESSIONS = 4000  # simulated sessions the report compares with the data
Progress = Callable[[float, str], None]
# shares of the progress bar per stage (reading dominates on large files)
READ, FIT = 0.55, 0.35


@dataclass(frozen=True)
class Calibration:
    """A fitted scenario, how each quantity was fitted, and how the fit compares with the data."""

    fit: Fit
    report: Report
    n_users: int
    n_items: int
    n_ratings: int

    @property
    def scenario(self) -> ScenarioConfig:
        return self.fit.scenario

    def summary(self, scenario_path: str | Path | None = None) -> dict:
        """The CLI's ``--json`` object."""
        return {"name": self.scenario.name, "scenario_path": str(scenario_path) if scenario_path else None,
                "n_users": self.n_users, "n_items": self.n_items, "n_ratings": self.n_ratings,
                "fit": self.report.to_json(),
                "fitted": {e.quantity: {"value": e.value, "how": e.how} for e in self.fit.explanations}}


def calibrate(
    ratings: str | Path, items: str | Path | None = None, fmt: str = "auto", mapping: dict[str, str] | None = None,
    options: FitOptions = FitOptions(), progress: Progress | None = None,
) -> Calibration:
    """Fit a scenario to a ratings file (and its item file) and report the fit; DataError for bad files."""
    say = progress or (lambda fraction, detail: None)
    data = read_interactions(ratings, items, fmt, mapping, progress=lambda f: say(READ * f, "reading"))
    fit = fit_scenario(data, options, progress=lambda f, detail: say(READ + FIT * f, detail))
    say(READ + FIT, "simulating the fitted world")
    report = compare(fit.profile, simulate(fit.scenario, fit.logging_SI, REPORT_SESSIONS, options.seed), fit.scenario)
    say(1.0, "done")
    return Calibration(fit, report, data.n_users, data.n_items, data.n_ratings)
