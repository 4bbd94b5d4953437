"""What a sweep is, and what a worker is handed to run one of its trials: plain values, light to import (no
torch), so the driver of a Ray sweep and a task's arguments stay small; and the memory its trials at once ask for,
checked before it starts as ``train`` checks a run's."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from dqn_sim import memory
from dqn_sim.assembly import RunConfig, assemble
from dqn_sim.config import ConfigError
from dqn_sim.sweep.space import Param, override


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep is: the base configuration, the searched parameters, the budget and how it searches. Kept in
    the study, so resuming under another definition is refused rather than mixed into one study."""

    name: str
    preset: str
    config: dict | None
    overrides: tuple[str, ...]
    params: tuple[Param, ...]
    seeds: int
    first_seed: int
    steps: int
    objective: str = "return"
    sampler: str = "tpe"
    pruner: str = "median"

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "overrides": list(self.overrides),
                "params": [p.to_dict() for p in self.params]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSpec:
        return cls(**{**data, "overrides": tuple(data["overrides"]),
                      "params": tuple(Param.from_dict(p) for p in data["params"])})


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run a sweep's next trial; plain values, so it travels to a Ray task too."""

    name: str
    storage_url: str
    store_home: str
    slot: int  # the worker's place among the sweep's workers (seeds its sampler apart from the others)


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended, as its worker hands it back (the study holds the rest)."""

    number: int
    state: str
    value: float | None


def base_config(spec: SweepSpec, sampled: dict[str, Any] | None = None, *, budget: bool = True) -> RunConfig:
    """The sweep's configuration with a trial's sampled values, trained for the sweep's budget (a trial), or with
    ``budget=False`` for the configuration's own ``train.total_steps`` (to train the trial's settings for real)."""
    picked = [override(path, value) for path, value in (sampled or {}).items()]
    steps = [f"train.total_steps={spec.steps}"] if budget else []
    return assemble(spec.preset, spec.config, [*spec.overrides, *picked, *steps])


def trial_bytes(spec: SweepSpec, sampled: dict[str, Any]) -> float | None:
    """The memory estimate of one seed of a trial of these sampled values; None when they clash with the rest of
    the configuration (such a trial fails before it trains)."""
    try:
        run = base_config(spec, sampled)
    except ConfigError:
        return None
    return memory.training(run.scenario, run.agent, run.train).total


def largest_trial(spec: SweepSpec) -> dict[str, Any]:
    """The sampled values of the trial that asks for the most memory, as far as one knob at a time tells: each
    searched knob in turn takes the value of its grid (its choices; a range's ends and middle) with the largest
    estimate, the knobs before it set so. A size only grows with its knob, so that is a range's upper end."""
    picked: dict[str, Any] = {}
    for param in spec.params:
        options = [{**picked, param.path: value} for value in param.grid()]
        sized = [(size, option) for option in options if (size := trial_bytes(spec, option)) is not None]
        picked = max(sized, key=lambda pair: pair[0], default=(0.0, picked))[1]
    return picked


def check_memory(spec: SweepSpec, trials_at_once: int) -> None:
    """Raise ``MemoryLimitError`` (one line naming the biggest part and the limit, as ``train``'s) if the trials
    that run at once, each training its seeds at once, could need more than the limit: sampled values are only
    known as trials start, so the check takes the largest trial the space allows."""
    run = base_config(spec, largest_trial(spec))
    memory.training(run.scenario, run.agent, run.train, runs=trials_at_once * spec.seeds).check()
