"""What a training process tells its job, one message type each (sent over a pipe, so they must pickle).

The job answers each with a ``match`` (``TrainingJob._file``): a new message is a dataclass here plus its case
there, and a message the job does not know fails loudly instead of being dispatched by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Started:
    """The process runs and is building its trainer."""


@dataclass(frozen=True)
class Progress:
    """Rows logged since the last report (also sent while paused: the heartbeat that ends an orphaned process)."""

    step: int
    elapsed_s: float
    metrics: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class PolicyCopy:
    """The agent as checkpoint bytes, on request (Inspect replays sessions with it)."""

    payload: bytes


@dataclass(frozen=True)
class Checkpointed:
    """The model of user-step ``step`` is saved where the job said (``Work.checkpoint``)."""

    step: int


@dataclass(frozen=True)
class Holding:
    """Training waits at user-step ``step``, just after a validation evaluation (reported before this), until the
    job says go on or stop: a sweep's pruner judges each evaluation before another step is spent on the trial."""

    step: int


@dataclass(frozen=True)
class Finished:
    """The final evaluation's summary and per-segment results."""

    summary: dict
    segments: list[dict]


@dataclass(frozen=True)
class Ended:
    """The last message: the final state, an error if any, the agent (None if no trainer was built) and the
    trainer's summary at its end (a run that did not finish has no final evaluation in it)."""

    state: str
    error: str | None
    payload: bytes | None
    summary: dict


Report = Started | Progress | PolicyCopy | Checkpointed | Holding | Finished | Ended
