"""The search space of a sweep: ``--param`` ranges and choices, read against the knob metadata.

``agent.lr=1e-4:3e-3:log`` is a range (``:log`` or ``:linear`` forces the scale), ``agent.n_step=1,3,5`` a list
of choices, a bare ``agent.lr`` the knob's whole allowed range. A range is searched on a log scale by default when
the knob itself spans decades (``lr`` from 1e-7 to 1), linearly otherwise (``gamma`` from 0). Every bound and
choice must lie within what the knob allows, so a sweep never samples a configuration that would be refused.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from dqn_sim.config import (
    AgentConfig,
    ConfigError,
    ScenarioConfig,
    TrainConfig,
    describe_allowed,
    json_or_text,
    leaf_fields,
)

LOG_SPAN = 100.0  # a knob whose allowed range covers this factor or more (and stays above 0) is searched in log
GRID_POINTS = 3  # values a range contributes to a grid search
SET_ELSEWHERE = {"train.total_steps": "--steps", "train.seed": "--seed and --seeds"}
Choice = bool | int | float | str


def knobs() -> dict[str, dataclasses.Field]:
    """Every searchable path and its field: ``agent.*``, ``train.*`` and scenario paths (``dynamics.slate_size``)."""
    out = {f"agent.{path}": f for path, f, _ in leaf_fields(AgentConfig())}
    out |= {f"train.{path}": f for path, f, _ in leaf_fields(TrainConfig())}
    out |= {path: f for path, f, _ in leaf_fields(ScenarioConfig())}
    return out


@dataclass(frozen=True)
class Param:
    """One searched knob: a range ``[lo, hi]`` (log or linear, integer or not) or a list of choices."""

    path: str
    lo: float | None = None
    hi: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Choice, ...] | None = None

    def distribution(self) -> BaseDistribution:
        if self.choices is not None:
            return CategoricalDistribution(self.choices)
        if self.integer:
            return IntDistribution(int(self.lo), int(self.hi), log=self.log)
        return FloatDistribution(self.lo, self.hi, log=self.log)

    def grid(self) -> list[Choice]:
        """The values a grid search tries: the choices, or ``GRID_POINTS`` spread over the range."""
        if self.choices is not None:
            return list(self.choices)
        if self.log:
            values = [self.lo * (self.hi / self.lo) ** (i / (GRID_POINTS - 1)) for i in range(GRID_POINTS)]
        else:
            values = [self.lo + (self.hi - self.lo) * i / (GRID_POINTS - 1) for i in range(GRID_POINTS)]
        return sorted({round(v) for v in values}) if self.integer else values

    def text(self) -> str:
        """The ``--param`` text that gives this parameter back."""
        if self.choices is not None:
            return f"{self.path}=" + ",".join(json.dumps(c) if not isinstance(c, str) else c for c in self.choices)
        scale = "log" if self.log else "linear"
        return f"{self.path}={_num(self.lo, self.integer)}:{_num(self.hi, self.integer)}:{scale}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Param:
        choices = data.get("choices")
        return cls(**{**data, "choices": tuple(choices) if choices is not None else None})


def _num(x: float, integer: bool) -> str:
    return str(int(x)) if integer else f"{x:g}"


def override(path: str, value: Choice) -> str:
    """The ``key=value`` override that sets ``path`` to a sampled value (see ``dqn_sim.assembly``)."""
    return f"{path}={json.dumps(value)}"


def distributions(params: tuple[Param, ...]) -> dict[str, BaseDistribution]:
    return {p.path: p.distribution() for p in params}


def grid_space(params: tuple[Param, ...]) -> dict[str, list[Choice]]:
    return {p.path: p.grid() for p in params}


def grid_size(params: tuple[Param, ...]) -> int:
    return math.prod(len(values) for values in grid_space(params).values())


def parse_params(texts: list[str]) -> tuple[Param, ...]:
    """Every ``--param``; the same knob twice is an error."""
    params = tuple(parse_param(t) for t in texts)
    paths = [p.path for p in params]
    twice = sorted({p for p in paths if paths.count(p) > 1})
    if twice:
        raise ConfigError(f"--param {twice[0]} is given more than once")
    return params


def parse_param(text: str) -> Param:
    """``path``, ``path=lo:hi[:log|:linear]`` or ``path=a,b,c``; ConfigError (one line naming it) when the knob is
    unknown or cannot be searched, or the range or a choice is not one the knob allows."""
    path, has_value, spec = (s.strip() for s in text.partition("="))
    path = path.removeprefix("scenario.")
    known = knobs()
    if path not in known:
        raise ConfigError(f"--param {text}: unknown knob {path!r} (agent.*, train.* or a scenario path such as "
                          "dynamics.slate_size)")
    if path in SET_ELSEWHERE:
        raise ConfigError(f"--param {text}: {path} is set by {SET_ELSEWHERE[path]}, not searched")
    f = known[path]
    kind = _kind(f)
    where = f"--param {text}"
    if kind is None:
        raise ConfigError(f"{where}: {path} is a list and cannot be searched")
    if not has_value:
        return _whole(path, f, kind, where)
    if ":" in spec:
        return _range(path, f, kind, spec, where)
    return Param(path, choices=tuple(_within(f, kind, json_or_text(v.strip()), where) for v in spec.split(",")))


def _kind(f: dataclasses.Field) -> str | None:
    """``int``, ``float``, ``bool`` or ``str``; None for list fields."""
    t = (f.type if isinstance(f.type, str) else f.type.__name__).replace(" ", "")
    return t if t in ("int", "float", "bool", "str") else None


def _within(f: dataclasses.Field, kind: str, value: Any, where: str) -> Choice:
    """``value`` as the knob's type if the knob allows it; ConfigError otherwise."""
    bad = ConfigError(f"{where}: {value!r} is not allowed: the knob takes {describe_allowed(f)}")
    m = f.metadata
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if kind == "str":
        if not isinstance(value, str) or (m.get("choices") and value not in m["choices"]):
            raise bad
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad
    if kind == "int" and not float(value).is_integer():
        raise bad
    if (m.get("lo") is not None and value < m["lo"]) or (m.get("hi") is not None and value > m["hi"]):
        raise bad
    return int(value) if kind == "int" else float(value)


def _spans_decades(f: dataclasses.Field) -> bool:
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    return lo is not None and hi is not None and lo > 0 and hi / lo >= LOG_SPAN


def _whole(path: str, f: dataclasses.Field, kind: str, where: str) -> Param:
    """The knob's whole allowed range, or all its choices."""
    if kind == "bool":
        return Param(path, choices=(False, True))
    if kind == "str":
        if not f.metadata.get("choices"):
            raise ConfigError(f"{where}: {path} is free text: give its choices, e.g. {path}=a,b")
        return Param(path, choices=tuple(f.metadata["choices"]))
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    if lo is None or hi is None:
        raise ConfigError(f"{where}: {path} has no upper or lower bound: give a range, e.g. {path}=LO:HI")
    return Param(path, lo=lo, hi=hi, log=_spans_decades(f), integer=kind == "int")


def _range(path: str, f: dataclasses.Field, kind: str, spec: str, where: str) -> Param:
    parts = spec.split(":")
    if kind not in ("int", "float"):
        raise ConfigError(f"{where}: {path} takes choices ({describe_allowed(f)}), not a range")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("log", "linear")):
        raise ConfigError(f"{where}: a range is LO:HI, LO:HI:log or LO:HI:linear")
    lo, hi = (_within(f, kind, json_or_text(v.strip()), where) for v in parts[:2])
    if lo >= hi:
        raise ConfigError(f"{where}: the range's low end {lo!r} must be below its high end {hi!r}")
    log = parts[2] == "log" if len(parts) == 3 else _spans_decades(f)
    if log and lo <= 0:
        raise ConfigError(f"{where}: a log range must lie above 0, got low end {lo!r} (use :linear)")
    return Param(path, lo=lo, hi=hi, log=log, integer=kind == "int")
