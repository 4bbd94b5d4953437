"""The studio's vocabulary, declared once: the metrics a run records and the states a run goes through.

The trainer writes these columns, the store persists them (a column declared here and missing from an older
database is added when the store opens it), the plots label and format them, ``metrics.csv`` follows their
order, and the pages word them. Adding a metric is one ``Metric`` in the table it belongs to plus the code
that computes it; nothing else lists columns by hand. (The policies are declared in ``dqn_sim.policies``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    """One recorded quantity: a column of a table of rows (training logging points, evaluations, segments)."""

    name: str
    label: str
    help: str  # one line: what it means and how it is computed
    dtype: str = "float"  # float | int | text: the column's type in the store and in DataFrames
    unit: str = ""
    fmt: str = ".3g"  # d3-format for hover labels and tables
    smooth: bool = True  # whether EMA smoothing means something (a schedule such as ε does not need it)
    aggregate: str = "mean"  # how values combine across logging points or seeds: mean | last | sum
    timing: bool = False  # measures the machine, not the learning (differs between identical seeded runs)
    key: bool = False  # identifies the row: never empty
    log_y: bool = False  # drawn on a log axis
    chart: bool = True  # offered as a diagnostic of its own on the Train page

    @property
    def sql_type(self) -> str:
        return {"float": "REAL", "int": "INTEGER", "text": "TEXT"}[self.dtype]

    @property
    def title(self) -> str:
        """Axis title: the label with its unit."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


@dataclass
class Table:
    """The columns of one kind of row, in their CSV/export order (mutable so a test can declare a new one)."""

    name: str  # the store's table
    csv: str  # the file name in an export zip and a CLI ``--out`` folder
    columns: tuple[Metric, ...]

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.columns]

    @property
    def keys(self) -> list[str]:
        return [m.name for m in self.columns if m.key]

    def __getitem__(self, name: str) -> Metric:
        for m in self.columns:
            if m.name == name:
                return m
        raise KeyError(f"{self.name} has no column {name!r}")

    def __contains__(self, name: object) -> bool:
        return any(m.name == name for m in self.columns)

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.columns if m.name == name), None)

    def row(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """This table's columns picked out of ``values``, in order; a declared column nothing computed is a
        KeyError rather than a silent gap."""
        return {name: values[name] for name in self.names}


def _interval(name: str, label: str, help: str, stem: str, **kw: object) -> tuple[Metric, Metric, Metric]:
    """A mean and the two ends of its 95% interval (``<stem>_lo``, ``<stem>_hi``)."""
    return (
        Metric(name, label, help, **kw),  # type: ignore[arg-type]
        Metric(f"{stem}_lo", f"{label}, 95% CI low", f"Lower end of the 95% interval of {label.lower()}",
               chart=False, **kw),  # type: ignore[arg-type]
        Metric(f"{stem}_hi", f"{label}, 95% CI high", f"Upper end of the 95% interval of {label.lower()}",
               chart=False, **kw),  # type: ignore[arg-type]
    )


STEP = Metric("step", "User-steps", "Simulated user-steps so far (one recommendation to one user)", dtype="int",
              fmt=",d", key=True, smooth=False, aggregate="last", chart=False)
WALL_TIME = Metric("wall_time", "Wall time", "Seconds spent training so far, pauses excluded", unit="s", fmt=".1f",
                   timing=True, smooth=False, aggregate="last", chart=False)
POLICY = Metric("policy", "Policy", "Which policy was evaluated (see `python -m dqn_sim policies`)", dtype="text",
                key=True, chart=False)

SESSION_LENGTH = Metric("episode_len_mean", "Session length", "Mean steps per held-out session", unit="steps",
                        fmt=".1f")
# What was recommended, per held-out session: the mechanism behind a return (declared once, for evaluations and
# for segments). "Shown" means recommended to a running session and recommendable to that user.
RECOMMENDATIONS = (
    *_interval("diversity", "In-session diversity", "Mean over sessions of the mean pairwise topic distance of the "
               "items shown in the session, 1 - cos(topics_i, topics_j) over pairs i != j (repeats included; sessions "
               "with fewer than 2 items left out); 0 = one topic throughout. Student-t 95% interval over the sessions",
               "diversity", fmt=".3f"),
    *_interval("novelty", "Novelty", "Mean over sessions of the mean -log2(popularity share) of the items shown in "
               "the session (share = the item's popularity / the catalogue's total): higher = less popular items. "
               "Student-t 95% interval over the sessions", "novelty", unit="bits", fmt=".2f"),
    *_interval("quality", "Mean item quality", "Mean over sessions of the mean true quality of the items shown in "
               "the session (quality refills a user's session budget). Student-t 95% interval over the sessions",
               "quality", fmt=".3f"),
    *_interval("clickbait_share", "Clickbait share", "Clickbait items shown / items shown, over every "
               "recommendation of the evaluation. Beta 95% interval (recommendations counted as independent, as "
               "for CTR)", "clickbait_share", fmt=".1%"),
    *_interval("leave_rate", "Early-leave rate", "Sessions the user ended before the step budget (max_steps) / "
               "sessions: budget spent or driven away by ads (the env's 'terminated' before the last step). Beta "
               "95% interval over the sessions", "leave_rate", fmt=".1%"),
)

TRAINING = Table("metrics", "metrics.csv", (
    STEP,
    Metric("episode", "Episodes", "Finished training sessions so far", fmt=",.0f", smooth=False, aggregate="last",
           chart=False),
    Metric("episode_return", "Return per session",
           "Mean return of the training sessions that ended since the last logging point (ε-greedy behaviour)"),
    Metric("ctr", "Click-through rate", "Clicks per recommendation step in training since the last logging point",
           fmt=".2%"),
    Metric("q_mean", "Q estimate", "Mean of the DQN's max-Q over the slate along finished sessions: what it "
           "expects to earn from each step on", chart=False),
    Metric("disc_return", "Realised discounted return",
           "Mean discounted return actually earned from each step of finished sessions (what Q estimates)",
           chart=False),
    Metric("epsilon", "Exploration rate ε", "Share of random recommendations at this step", fmt=".3f",
           smooth=False, aggregate="last"),
    Metric("loss", "TD loss", "Mean temporal-difference loss of the gradient updates since the last logging point",
           log_y=True),
    Metric("sps", "Throughput", "Simulated user-steps per second, learning included", unit="steps/s", fmt=",.0f",
           timing=True),
    Metric("updates_per_s", "Gradient updates per second", "Gradient updates per second of training time",
           unit="1/s", fmt=",.0f", timing=True),
    WALL_TIME,
))

EVALUATION = Table("evals", "evals.csv", (
    STEP,
    WALL_TIME,
    POLICY,
    *_interval("return_mean", "Return per session", "Mean return per held-out session, Student-t 95% interval "
               "over the sessions", "return"),
    *_interval("ctr", "Click-through rate", "Clicks per recommendation step over the held-out sessions, Beta 95% "
               "interval", "ctr", fmt=".2%"),
    SESSION_LENGTH,
    Metric("coverage", "Catalogue coverage", "Items shown at least once across the evaluation / items in the "
           "catalogue. No interval: one number per evaluation, not a mean over sessions (and it grows with the "
           "number of sessions)", fmt=".1%"),
    *RECOMMENDATIONS,
    Metric("split", "Users", "Which held-out users: 'validation' (the curve, and the choice of checkpoint) or "
           "'test' (the kept checkpoint and every baseline, judged once at the end: the reported result)",
           dtype="text", smooth=False, aggregate="last", chart=False),
))

SEGMENTS = Table("segment_results", "segments.csv", (
    POLICY,
    Metric("segment", "Segment", "Index of the audience segment", dtype="int", key=True, chart=False),
    Metric("segment_name", "Segment name", "The segment's name", dtype="text", chart=False),
    Metric("episodes", "Sessions", "Held-out sessions of users of this segment", dtype="int", fmt=",d"),
    *_interval("return_mean", "Return per session", "Mean return per held-out session of this segment, Student-t "
               "95% interval", "return"),
    SESSION_LENGTH,
    *RECOMMENDATIONS,
))

TABLES = {t.name: t for t in (TRAINING, EVALUATION, SEGMENTS)}


@dataclass(frozen=True)
class State:
    """A state of a run: of a training job while its process lives, and of its record in the store."""

    name: str
    label: str
    color: str  # badge colour (Streamlit's names)
    icon: str
    active: bool = False  # the job holds a slot: starting, training or paused
    live: bool = False  # a process trains it now (its store row names that process as owner)
    success: bool = False  # ended as asked


STATES: dict[str, State] = {s.name: s for s in (
    State("pending", "Starting", "gray", ":material/hourglass_top:", active=True),
    State("running", "Training", "blue", ":material/play_arrow:", active=True, live=True),
    State("paused", "Paused", "orange", ":material/pause:", active=True, live=True),
    State("finished", "Finished", "green", ":material/check_circle:", success=True),
    State("stopped", "Stopped", "gray", ":material/stop_circle:", success=True),
    State("failed", "Failed", "red", ":material/error:"),
    State("diverged", "Diverged", "red", ":material/warning:"),
    State("interrupted", "Interrupted", "gray", ":material/link_off:"),  # its process ended while it trained
)}
ACTIVE_STATES = tuple(s for s, v in STATES.items() if v.active)
LIVE_STATES = tuple(s for s, v in STATES.items() if v.live)
STORED_STATES = tuple(s for s in STATES if s != "pending")  # a run is stored once its process has started
SUCCESS_STATES = tuple(s for s, v in STATES.items() if v.success)  # ended as asked: a result to report
FAILURE_STATES = tuple(s for s, v in STATES.items() if not (v.active or v.success))  # ended otherwise
# How a pending run that waits in the server's queue for a slot is shown (its job's state stays 'pending', whose label
# "Starting" would say its process is starting): not a state of STATES, which a run's record goes through.
QUEUED = State("queued", "Queued", "gray", ":material/schedule:")
