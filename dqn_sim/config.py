"""Scenario, agent and training configuration: documented, validated dataclasses with a JSON round trip.

Every field is declared with :func:`knob`, which records its meaning, unit and allowed range. The same
metadata drives validation (errors name the dotted field path), the CLI's ``--set`` overrides and the
Streamlit forms' help text, so the three can never disagree.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """An invalid configuration value; the message names the dotted field path and what is allowed."""


def json_problem(e: ValueError) -> str:
    """Why ``json.loads`` refused a text, in a user's words. Besides ``JSONDecodeError`` it raises a plain
    ValueError for an integer of more digits than Python converts (4300), whose message tells a programmer to call
    ``sys.set_int_max_str_digits``."""
    if isinstance(e, json.JSONDecodeError) or "integer string conversion" not in str(e):
        return str(e)
    return f"a number of more than {sys.get_int_max_str_digits()} digits"


def knob(
    default: Any,
    help: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] | None = None,
    unit: str = "",
    group: str = "",
    when: tuple[str, Any] | None = None,
) -> Any:
    """A dataclass field carrying its documentation and allowed range (``lo``/``hi`` inclusive).

    ``when=(sibling, value or tuple of values)``: the field only matters while that sibling field of the same config
    has one of those values (an exponential schedule's rate means nothing under a linear one), so forms hide it
    otherwise.
    """
    if when is not None and not isinstance(when[1], tuple):
        when = (when[0], (when[1],))
    meta = {"help": help, "lo": lo, "hi": hi, "choices": choices, "unit": unit, "group": group, "when": when}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def describe_allowed(f: dataclasses.Field) -> str:
    """Human wording of a field's allowed values, e.g. ``an integer in [1, 1000000]``."""
    m = f.metadata
    if m.get("choices"):
        return "one of " + ", ".join(repr(c) for c in m["choices"])
    kind = _kind(f)
    if kind == "bool":
        return "true or false"
    if kind in ("int", "float", "ints", "floats"):
        noun = {"int": "an integer", "float": "a number", "ints": "a list of integers",
                "floats": "a list of numbers"}[kind]
        lo, hi = m.get("lo"), m.get("hi")
        if lo is not None and hi is not None:
            return f"{noun} in [{_fmt(lo)}, {_fmt(hi)}]"
        if lo is not None:
            return f"{noun} >= {_fmt(lo)}"
        return noun
    if kind == "strs":
        return "a list of names"
    return "a string"


def decided_by(path: str, f: dataclasses.Field) -> str | None:
    """The dotted path of the sibling whose value decides whether the field at ``path`` matters (``when``)."""
    when = f.metadata.get("when")
    if not when:
        return None
    parent = path.rpartition(".")[0]
    return f"{parent}.{when[0]}" if parent else when[0]


def in_use(path: str, f: dataclasses.Field, value_of: Callable[[str], Any]) -> bool:
    """Whether the field at ``path`` matters, given ``value_of`` (dotted path -> current value) of its ``when``
    sibling; a field without ``when`` always does."""
    sibling = decided_by(path, f)
    return sibling is None or value_of(sibling) in f.metadata["when"][1]


def used_when(f: dataclasses.Field) -> str:
    """``eps_schedule is 'exponential'``: the condition of a ``when`` field in words, or '' without one."""
    when = f.metadata.get("when")
    if not when:
        return ""
    return f"{when[0]} is " + " or ".join(_show(v) if not isinstance(v, bool) else str(v).lower() for v in when[1])


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _kind(f: dataclasses.Field) -> str:
    t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    t = t.replace(" ", "")
    if t in ("int", "float", "bool", "str"):
        return t
    if t.startswith("list[float]"):
        return "floats"
    if t.startswith("list[int]"):
        return "ints"
    if t.startswith("list[str]"):
        return "strs"
    return "nested"


def _check_value(path: str, f: dataclasses.Field, value: Any) -> Any:
    """Coerce and range-check one leaf value; raise ConfigError naming ``path``."""
    kind = _kind(f)
    bad = ConfigError(f"{path} must be {describe_allowed(f)}, got {_show(value)}")
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise bad
        if f.metadata.get("choices") and value not in f.metadata["choices"]:
            raise bad
        return value
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise bad
            value = int(value)
        else:
            try:
                value = float(value)
            except OverflowError:  # an integer of hundreds of digits
                raise bad from None
            if not math.isfinite(value):
                raise bad
        lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise bad
        return value
    if kind == "floats":
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
        ):
            raise bad
        return _in_range(path, f, [float(v) for v in value])
    if kind == "ints":
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) or isinstance(v, float) and v.is_integer() for v in value
        ):
            raise bad
        return _in_range(path, f, [int(v) for v in value])
    if kind == "strs":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise bad
        return list(value)
    return value


def _in_range(path: str, f: dataclasses.Field, values: list) -> list:
    """A list field's ``lo``/``hi`` bound every element (fitted tables are lists); the error names the element."""
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    lo, hi = -math.inf if lo is None else lo, math.inf if hi is None else hi
    for i, v in enumerate(values):
        if not lo <= v <= hi:
            raise ConfigError(f"{path}[{i}] must be in [{_fmt(lo)}, {_fmt(hi)}], got {v!r}")
    return values


def _show(value: Any) -> str:
    """A value for an error message, short whatever it holds: long lists (fitted tables) cut to their first items
    and their length, huge integers and long texts by their size (a one-line message must stay one short line)."""
    if isinstance(value, (list, tuple)):
        items = ", ".join(_show(v) for v in value[:3 if len(value) > 8 else 8])
        return f"[{items}, ... ({len(value)} values)]" if len(value) > 8 else f"[{items}]"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 300:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + f"... ({len(text)} characters)"


class Config:
    """Mixin: validation on construction, dotted-path errors, dict/JSON round trip, dotted overrides."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, prefix: str = "") -> None:
        for f in fields(self):  # type: ignore[arg-type]
            path = f"{prefix}{f.name}"
            value = getattr(self, f.name)
            if isinstance(value, Config):
                value.validate(prefix=path + ".")
            else:
                object.__setattr__(self, f.name, _check_value(path, f, value))
        self.check(prefix)

    def check(self, prefix: str) -> None:
        """Cross-field rules; override in subclasses."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
        """Build from a (possibly partial) dict; unknown keys are an error, missing keys take defaults."""
        if not isinstance(data, dict):
            raise ConfigError(f"{prefix.rstrip('.') or cls.__name__} must be an object, got {data!r}")
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(
                f"unknown field {prefix}{unknown[0]!s}; allowed fields: {', '.join(sorted(known))}"
            )
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            sub = _nested_type(cls, name)
            kwargs[name] = sub.from_dict(value, prefix=f"{prefix}{name}.") if sub else value
        try:
            return cls(**kwargs)
        except ConfigError as e:
            if prefix and not str(e).startswith(prefix):
                raise ConfigError(prefix + str(e)) from None
            raise

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        try:
            data = json.loads(text)
        except ValueError as e:  # JSONDecodeError, or a number of thousands of digits
            raise ConfigError(f"not valid JSON: {json_problem(e)}") from None
        return cls.from_dict(data)  # type: ignore[attr-defined]

    def with_overrides(self: T, overrides: dict[str, Any]) -> T:
        """Return a copy with dotted-path overrides applied, e.g. ``{"audience.n_segments": 3}``."""
        data = self.to_dict()  # type: ignore[attr-defined]
        for path, value in overrides.items():
            node = data
            parts = path.split(".")
            for p in parts[:-1]:
                if not isinstance(node.get(p), dict):
                    raise ConfigError(f"unknown field {path}")
                node = node[p]
            if parts[-1] not in node:
                raise ConfigError(f"unknown field {path}")
            node[parts[-1]] = value
        return type(self).from_dict(data)  # type: ignore[attr-defined]


def _nested_type(cls: type, name: str) -> type | None:
    hints = {f.name: f for f in fields(cls)}
    f = hints[name]
    t = f.type if isinstance(f.type, str) else f.type.__name__
    return _CONFIG_TYPES.get(t)


def leaf_fields(cfg: Config, prefix: str = "") -> list[tuple[str, dataclasses.Field, Any]]:
    """All leaf fields as ``(dotted_path, field, value)``: used by the UI forms and the CLI."""
    out: list[tuple[str, dataclasses.Field, Any]] = []
    for f in fields(cfg):  # type: ignore[arg-type]
        v = getattr(cfg, f.name)
        if isinstance(v, Config):
            out.extend(leaf_fields(v, f"{prefix}{f.name}."))
        else:
            out.append((f"{prefix}{f.name}", f, v))
    return out


def parse_override(text: str) -> tuple[str, Any]:
    """Parse a CLI ``key=value``; the value is read as JSON when it parses, else kept as a string."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got {text!r}")
    key, raw = text.split("=", 1)
    return key.strip(), json_or_text(raw)


def json_or_text(raw: str) -> Any:
    """A value given on the command line, read as JSON when it parses, else kept as the text: a bare word, or a
    number of thousands of digits (which Python refuses to read), that the field's check then refuses by name."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


# --------------------------------------------------------------------------------------------- scenario


@dataclass(frozen=True)
class CatalogueConfig(Config):
    """The items that can be recommended."""

    n_items: int = knob(200, "Items in the catalogue.", lo=2, hi=20000, group="size")
    n_topics: int = knob(10, "Topics items and interests are spread over.", lo=1, hi=64, group="size")
    topic_mix: str = knob(
        "onehot", "How an item covers topics: one topic each, or a Dirichlet mix.",
        choices=("onehot", "dirichlet"), group="topics",
    )
    dirichlet_alpha: float = knob(
        0.3, "Concentration of Dirichlet topic mixes (small = nearly one topic).", lo=0.01, hi=10.0,
        group="topics",
    )
    quality_mean: float = knob(0.5, "Mean item quality (satisfaction after consumption).", lo=-5.0, hi=5.0,
                               group="quality")
    quality_std: float = knob(0.5, "Spread of item quality.", lo=0.0, hi=5.0, group="quality")
    topic_quality_range: float = knob(
        0.0, "RecSim-style per-topic quality: 'trashy' topics get means in [-r, 0], the rest in [0, r]; 0 = off.",
        lo=0.0, hi=5.0, group="quality",
    )
    trashy_topics: int = knob(0, "Topics whose quality means are <= 0 when topic_quality_range > 0.",
                              lo=0, hi=64, group="quality")
    clickbait_share: float = knob(
        0.0, "Share of items that are clickbait: tempting (appeal) but poor (quality penalty).", lo=0.0, hi=1.0,
        group="quality",
    )
    clickbait_appeal: float = knob(1.5, "Extra click appeal of clickbait items (logit units).", lo=0.0, hi=10.0,
                                   group="quality")
    clickbait_quality_penalty: float = knob(2.0, "Quality subtracted from clickbait items.", lo=0.0, hi=10.0,
                                            group="quality")
    quality_observed: bool = knob(
        True, "Whether the recommender sees a noisy quality signal among the item features.", group="quality"
    )
    length_mean: float = knob(4.0, "Mean item length (watch time if fully consumed).", lo=0.01, hi=1000.0,
                              unit="minutes", group="length")
    length_std: float = knob(1.0, "Spread of item length.", lo=0.0, hi=1000.0, unit="minutes", group="length")
    popularity_zipf: float = knob(1.0, "Zipf exponent of the popularity prior (0 = all equal).", lo=0.0, hi=3.0,
                                  group="popularity")
    popularity_weight: float = knob(
        0.3, "How much the popularity prior raises click appeal (logit per log-popularity).", lo=0.0, hi=5.0,
        group="popularity",
    )
    on_air_share: float = knob(
        1.0, "Share of the schedule period each item is available (1 = always; live streams and news < 1).",
        lo=0.01, hi=1.0, group="schedule",
    )
    schedule_period: int = knob(48, "Length of the repeating schedule (on-air windows).", lo=1, hi=100000,
                                unit="steps", group="schedule")
    fresh_boost: float = knob(0.0, "Appeal boost right when an item goes on air (live spike, news freshness).",
                              lo=0.0, hi=10.0, group="schedule")
    fresh_decay: float = knob(4.0, "Steps over which the freshness boost decays by e.", lo=0.1, hi=10000.0,
                              unit="steps", group="schedule")
    value_mean: float = knob(0.0, "Mean price (shop) or bid (ads) of an item; 0 = none.", lo=0.0, hi=10000.0,
                             group="value")
    value_spread: float = knob(0.5, "Log-normal spread of price/bid.", lo=0.0, hi=3.0, group="value")
    ad_share: float = knob(1.0, "Share of items that carry a value (ads among organic items); 1 = all.",
                           lo=0.0, hi=1.0, group="value")
    topic_names: list[str] = knob(
        [], "Display names of the topics (empty = Topic 1, 2, ...); a name holds no ',' or '|'.", group="topics"
    )
    # fitted tables (python -m dqn_sim calibrate): one entry per item; empty = drawn from the knobs above
    item_topics: list[str] = knob(
        [], "Fitted: each item's topics, names from topic_names joined by '|' (an equal mix of them); "
        "empty = drawn as topic_mix says.", group="fitted",
    )
    item_popularity_rank: list[int] = knob(
        [], "Fitted: each item's popularity rank (1 = most popular); the prior is rank^-popularity_zipf. "
        "Empty = random ranks.", lo=1, hi=20000, group="fitted",
    )
    item_quality_z: list[float] = knob(
        [], "Fitted: each item's quality in standard units: quality = quality_mean + quality_std x value. "
        "Empty = drawn from the normal distribution.", lo=-10.0, hi=10.0, group="fitted",
    )

    def check(self, prefix: str) -> None:
        n, k = self.n_items, self.n_topics
        names = self.topic_names
        if names and (len(names) != k or len(set(names)) != k or any(
            not t.strip() or "," in t or "|" in t for t in names
        )):
            raise ConfigError(
                f"{prefix}topic_names must be empty or {k} distinct non-empty names without ',' or '|' "
                f"(n_topics), got {_show(names)}"
            )
        for table in ("item_topics", "item_popularity_rank", "item_quality_z"):
            values = getattr(self, table)
            if values and len(values) != n:
                raise ConfigError(f"{prefix}{table} must be empty or {n} values (n_items), got {len(values)}")
        if self.item_popularity_rank and max(self.item_popularity_rank) > n:
            raise ConfigError(
                f"{prefix}item_popularity_rank must hold ranks in [1, {n}] (n_items), "
                f"got {max(self.item_popularity_rank)}"
            )
        if self.item_topics:
            known = set(names)
            for i, entry in enumerate(self.item_topics):
                unknown = [t for t in entry.split("|") if t not in known]
                if unknown:
                    raise ConfigError(
                        f"{prefix}item_topics[{i}] must name topics from topic_names joined by '|', "
                        f"got {entry!r}" + ("" if names else " (topic_names is empty)")
                    )


@dataclass(frozen=True)
class AudienceConfig(Config):
    """Who the simulated users are."""

    n_users: int = knob(10000, "Distinct simulated users (episodes draw users from this population).",
                        lo=1, hi=1000000, group="population")
    n_segments: int = knob(4, "Audience segments, each an interest profile.", lo=1, hi=32, group="segments")
    segment_shares: list[float] = knob([], "Share of the audience per segment (empty = equal).", group="segments")
    segment_names: list[str] = knob([], "Display names of the segments (empty = Segment 1, 2, ...).",
                                    group="segments")
    segment_focus: int = knob(2, "Favourite topics per segment.", lo=1, hi=64, group="segments")
    interest_init: str = knob(
        "segments", "Initial interests: around the segment profile, or uniform in [-1, 1] (RecSim).",
        choices=("segments", "uniform"), group="interests",
    )
    interest_spread: float = knob(0.3, "Spread of a user's interests around the segment profile.",
                                  lo=0.0, hi=2.0, group="interests")
    interests_observed: bool = knob(False, "Whether the recommender sees the user's true interests.",
                                    group="interests")
    segment_observed: bool = knob(True, "Whether the recommender sees the user's segment.", group="interests")
    budget_mean: float = knob(60.0, "Session budget (patience) a user arrives with.", lo=0.1, hi=100000.0,
                              unit="minutes", group="patience")
    budget_spread: float = knob(0.2, "Relative spread of the session budget between users.", lo=0.0, hi=2.0,
                                group="patience")
    budget_observed: bool = knob(False, "Whether the recommender sees the remaining session budget.",
                                 group="patience")
    segment_profiles: list[float] = knob(
        [], "Fitted: each segment's interest in each topic, n_segments x n_topics values row by row "
        "(segment_focus is then unused); empty = each segment likes segment_focus topics.",
        lo=-1.0, hi=1.0, group="segments",
    )


@dataclass(frozen=True)
class DynamicsConfig(Config):
    """How users choose, tire, drift and leave within a session."""

    slate_size: int = knob(1, "Items recommended per step.", lo=1, hi=20, group="slate")
    n_candidates: int = knob(0, "Candidates sampled per step (0 = the whole available catalogue).",
                             lo=0, hi=20000, group="slate")
    choice_model: str = knob(
        "logit", "How a user picks from the slate: multinomial logit, or RecSim's multinomial-proportional.",
        choices=("logit", "proportional"), group="choice",
    )
    affinity_weight: float = knob(3.0, "Logit weight of interest . topic.", lo=0.0, hi=20.0, group="choice",
                                  when=("choice_model", "logit"))
    no_click_score: float = knob(1.0, "Logit of not clicking (higher = fewer clicks).", lo=-20.0, hi=20.0,
                                 group="choice", when=("choice_model", "logit"))
    no_click_mass: float = knob(2.0, "Proportional model: mass of the no-click option.", lo=0.0, hi=100.0,
                                group="choice", when=("choice_model", "proportional"))
    fatigue_gain: float = knob(0.0, "Fatigue added to an item's topics when it is shown.", lo=0.0, hi=10.0,
                               group="fatigue")
    fatigue_decay: float = knob(0.8, "Per-step retention of fatigue (0 = forgets at once).", lo=0.0, hi=1.0,
                                group="fatigue")
    fatigue_weight: float = knob(1.0, "Logit penalty per unit of topic fatigue.", lo=0.0, hi=20.0,
                                 group="fatigue")
    drift_rate: float = knob(0.1, "Interest drift toward clicked items (RecSim uses 0.3).", lo=0.0, hi=1.0,
                             group="drift")
    budget_refill: float = knob(
        0.265, "Budget regained per minute consumed per unit of quality (RecSim: 0.9/3.4).", lo=0.0, hi=10.0,
        group="budget",
    )
    no_click_cost: float = knob(0.5, "Budget lost on a step without a click.", lo=0.0, hi=1000.0,
                                unit="minutes", group="budget")
    ad_fatigue_gain: float = knob(0.0, "Ad fatigue added each time an ad (valued item) is shown.",
                                  lo=0.0, hi=10.0, group="ads")
    ad_leave_hazard: float = knob(0.0, "Chance of leaving after a step per squared unit of ad fatigue (ad load).",
                                  lo=0.0, hi=1.0, group="ads")
    purchase_bias: float = knob(-1.0, "Shop: logit of buying after a click at zero fit and unit price.",
                                lo=-20.0, hi=20.0, group="shop")
    purchase_fit: float = knob(3.0, "Shop: logit gain of buying per unit of interest . topic.", lo=0.0,
                               hi=20.0, group="shop")
    price_sensitivity: float = knob(0.8, "Shop: logit loss of buying per unit of log price.", lo=0.0, hi=20.0,
                                    group="shop")
    max_steps: int = knob(100, "Step cap of a session (time-limit truncation).", lo=1, hi=100000,
                          unit="steps", group="budget")


@dataclass(frozen=True)
class ScenarioConfig(Config):
    """A complete scenario: catalogue + audience + session dynamics + reward."""

    name: str = knob("custom", "Scenario name (the preset it started from, or your own).")
    world_seed: int = knob(0, "Seed that draws the catalogue and the audience (the world, not the episodes).",
                           lo=0, hi=2**31 - 1)
    reward: str = knob(
        "watch_time", "What a step earns: a click, minutes watched, purchase value, or bid x click.",
        choices=("click", "watch_time", "purchase", "bid"),
    )
    catalogue: CatalogueConfig = field(default_factory=CatalogueConfig)
    audience: AudienceConfig = field(default_factory=AudienceConfig)
    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)

    def check(self, prefix: str) -> None:
        c, a, d = self.catalogue, self.audience, self.dynamics
        if c.trashy_topics > c.n_topics:
            raise ConfigError(
                f"{prefix}catalogue.trashy_topics must be an integer in [0, {c.n_topics}] "
                f"(catalogue.n_topics), got {c.trashy_topics}"
            )
        if a.segment_focus > c.n_topics:
            raise ConfigError(
                f"{prefix}audience.segment_focus must be an integer in [1, {c.n_topics}] "
                f"(catalogue.n_topics), got {a.segment_focus}"
            )
        if a.segment_shares and (
            len(a.segment_shares) != a.n_segments or any(s < 0 for s in a.segment_shares)
            or sum(a.segment_shares) <= 0
        ):
            raise ConfigError(
                f"{prefix}audience.segment_shares must be empty or {a.n_segments} non-negative numbers "
                f"with a positive sum, got {a.segment_shares!r}"
            )
        if a.segment_profiles and len(a.segment_profiles) != a.n_segments * c.n_topics:
            raise ConfigError(
                f"{prefix}audience.segment_profiles must be empty or {a.n_segments * c.n_topics} values "
                f"(n_segments x catalogue.n_topics), got {len(a.segment_profiles)}"
            )
        if a.segment_names and len(a.segment_names) != a.n_segments:
            raise ConfigError(
                f"{prefix}audience.segment_names must be empty or {a.n_segments} names, got {a.segment_names!r}"
            )
        if d.n_candidates > c.n_items:
            raise ConfigError(
                f"{prefix}dynamics.n_candidates must be an integer in [0, {c.n_items}] (catalogue.n_items), "
                f"got {d.n_candidates}"
            )
        pool = d.n_candidates or c.n_items
        if d.slate_size > pool:
            raise ConfigError(
                f"{prefix}dynamics.slate_size must be an integer in [1, {pool}] (the candidate pool), "
                f"got {d.slate_size}"
            )
        if self.reward in ("purchase", "bid") and c.value_mean <= 0:
            raise ConfigError(
                f"{prefix}catalogue.value_mean must be > 0 when reward is {self.reward!r}, got {c.value_mean}"
            )


# --------------------------------------------------------------------------------------------- agent


@dataclass(frozen=True)
class AgentConfig(Config):
    """DQN hyperparameters (defaults learn well on every preset)."""

    network: str = knob(
        "auto", "Q-network: one output per item (mlp), item-feature two-tower scoring (item), or auto "
        "(item when candidates are sampled or the catalogue is large).",
        choices=("auto", "mlp", "item"), group="network",
    )
    hidden_sizes: list[int] = knob([128, 128], "Hidden layer widths of the state network.",
                                     group="network")
    embedding_dim: int = knob(32, "Item/state embedding width of the two-tower network.", lo=2, hi=1024,
                              group="network")
    dueling: bool = knob(False, "Dueling head: Q = V(s) + A(s, a) - mean A.", group="network")
    buffer_size: int = knob(100000, "Replay buffer capacity (transitions).", lo=100, hi=5000000,
                            group="replay")
    prioritized: bool = knob(False, "Prioritized experience replay (proportional, sum tree).", group="replay")
    per_alpha: float = knob(0.6, "PER: how strongly priorities shape sampling (0 = uniform).", lo=0.0,
                            hi=1.0, group="replay", when=("prioritized", True))
    per_beta0: float = knob(0.4, "PER: initial importance-sampling exponent, annealed to 1.", lo=0.0,
                            hi=1.0, group="replay", when=("prioritized", True))
    per_eps: float = knob(1e-3, "PER: priority floor added to |TD error|.", lo=1e-8, hi=1.0, group="replay",
                          when=("prioritized", True))
    batch_size: int = knob(128, "Transitions per gradient update.", lo=1, hi=65536, group="learning")
    lr: float = knob(5e-4, "Adam learning rate.", lo=1e-7, hi=1.0, group="learning")
    lr_schedule: str = knob(
        "linear", "Learning rate over training: constant, or decayed linearly or along a cosine to "
        "lr_end_fraction x lr at the end (smaller late steps keep the greedy policy from churning between "
        "evaluations).", choices=("constant", "linear", "cosine"), group="learning",
    )
    lr_end_fraction: float = knob(0.1, "Decayed learning rate schedules: the rate at the end, as a share of lr.",
                                  lo=0.0, hi=1.0, group="learning", when=("lr_schedule", ("linear", "cosine")))
    gamma: float = knob(0.95, "Discount factor (0 = myopic).", lo=0.0, hi=0.9999, group="learning")
    n_step: int = knob(5, "Steps of the n-step return (longer = long-term effects are seen sooner).", lo=1,
                       hi=50, group="learning")
    double_dqn: bool = knob(True, "Double DQN: online net picks, target net evaluates.", group="learning")
    loss: str = knob("huber", "TD loss.", choices=("huber", "mse"), group="learning")
    max_grad_norm: float = knob(10.0, "Gradient-norm clip (0 = off).", lo=0.0, hi=1e6, group="learning")
    target_update: str = knob("hard", "Target network update: hard copy every C steps, or soft (Polyak).",
                              choices=("hard", "soft"), group="learning")
    target_update_interval: int = knob(500, "Hard update: gradient updates between copies.", lo=1,
                                       hi=1000000, group="learning", when=("target_update", "hard"))
    tau: float = knob(0.005, "Soft update rate.", lo=1e-6, hi=1.0, group="learning", when=("target_update", "soft"))
    reward_scale: float = knob(1.0, "Rewards are multiplied by this before learning.", lo=1e-6, hi=1e6,
                               group="learning")
    value_norm: str = knob(
        "popart", "Value normalisation: none, or popart (PopArt: TD targets are learned in units of their running "
        "mean and spread, and the output layer is rescaled so Q keeps its meaning). It makes the learning step "
        "independent of the reward's units (a purchase worth 200 or a click worth 1); the TD loss is then in "
        "those normalised units.", choices=("none", "popart"), group="learning",
    )
    popart_beta: float = knob(3e-3, "PopArt: step of the running mean and spread of the targets per update "
                              "(bias-corrected, so the first batches set the scale).", lo=1e-6, hi=1.0,
                              group="learning", when=("value_norm", "popart"))
    eps_schedule: str = knob("linear", "Exploration decay: linear or exponential.",
                             choices=("linear", "exponential"), group="exploration")
    eps_start: float = knob(1.0, "Initial exploration rate.", lo=0.0, hi=1.0, group="exploration")
    eps_end: float = knob(0.01, "Final exploration rate.", lo=0.0, hi=1.0, group="exploration")
    eps_decay_fraction: float = knob(0.3, "Linear: share of training over which epsilon decays.", lo=0.0,
                                     hi=1.0, group="exploration", when=("eps_schedule", "linear"))
    eps_decay_rate: float = knob(0.995, "Exponential: epsilon multiplier per decay period.", lo=0.5,
                                 hi=1.0, group="exploration", when=("eps_schedule", "exponential"))
    eps_decay_period: int = knob(100, "Exponential: env steps per multiplication.", lo=1, hi=10000000,
                                 group="exploration", when=("eps_schedule", "exponential"))

    def check(self, prefix: str) -> None:
        if not self.hidden_sizes or any(h < 1 or h > 4096  for h in self.hidden_sizes):
            raise ConfigError(
                f"{prefix}hidden_sizes must be a non-empty list of integers in [1, 4096], "
                f"got {_show(self.hidden_sizes)}"
            )
        if self.eps_end > self.eps_start:
            raise ConfigError(
                f"{prefix}eps_end must be a number in [0, {self.eps_start}] (eps_start), got {self.eps_end}"
            )


# --------------------------------------------------------------------------------------------- rival learners


@dataclass(frozen=True)
class LinUCBConfig(Config):
    """LinUCB (Li et al. 2010, disjoint model): a ridge regression of the next reward per item over the user's
    observation and the item's features; recommends the items of highest upper confidence bound."""

    alpha: float = knob(0.5, "Width of the confidence bound added to each predicted reward (alpha; 0 = greedy on the "
                        "mean), in units of the largest reward seen.", lo=0.0, hi=100.0, group="linucb")
    ridge: float = knob(1.0, "Ridge penalty: each item's model starts from ridge x identity (Li et al.: 1).",
                        lo=1e-6, hi=1e6, group="linucb")


@dataclass(frozen=True)
class ThompsonConfig(Config):
    """Linear Thompson sampling (Agrawal & Goyal 2013): the same per-item regression as LinUCB, Bayesian; each
    recommendation ranks one draw from every item's posterior."""

    prior_var: float = knob(1.0, "Prior variance of each weight, in units of the largest reward seen (smaller = "
                            "trusts the prior longer).", lo=1e-6, hi=1e6, group="thompson")
    noise: float = knob(0.25, "Variance of the reward noise (v squared), in units of the largest reward seen: "
                        "scales how widely the posterior draws spread.", lo=1e-6, hi=1e6, group="thompson")


@dataclass(frozen=True)
class ReinforceConfig(Config):
    """REINFORCE with the top-K off-policy correction (Chen et al. 2019, the YouTube recommender): a softmax policy
    over item scores, trained on discounted returns with capped importance weights."""

    lr: float = knob(1e-3, "Adam learning rate of the policy network.", lo=1e-7, hi=1.0, group="reinforce")
    gamma: float = knob(0.95, "Discount of the return each recommendation is credited with.", lo=0.0, hi=0.9999,
                        group="reinforce")
    top_k: int = knob(0, "K of the top-K correction: items the policy recommends per step (0 = the slate size; "
                      "1 = plain REINFORCE).", lo=0, hi=100, group="reinforce")
    entropy: float = knob(0.01, "Weight of the policy's entropy in the objective (keeps it exploring).", lo=0.0,
                          hi=10.0, group="reinforce")
    weight_cap: float = knob(10.0, "Cap of the importance weight pi/beta (Chen et al.'s c): bounds the variance of "
                             "learning from recommendations an older policy made.", lo=1.0, hi=1e6, group="reinforce")
    batch_size: int = knob(256, "Recommendations per gradient step.", lo=1, hi=65536, group="reinforce")
    buffer_size: int = knob(4096, "Most recent recommendations with a known return kept to learn from.", lo=1,
                            hi=5000000, group="reinforce")
    hidden: int = knob(64, "Hidden units of the state and item towers.", lo=1, hi=4096, group="reinforce")
    embedding_dim: int = knob(32, "Width of the state and item embeddings whose dot product scores an item.", lo=1,
                              hi=1024, group="reinforce")


LEARNERS = ("dqn", "linucb", "thompson", "reinforce")  # the registry's learners (dqn_sim.policies; a test checks)


@dataclass(frozen=True)
class TrainConfig(Config):
    """How long and how a training run goes, and which learner it trains."""

    total_steps: int = knob(250000, "Environment user-steps to train for.", lo=1, hi=1000000000)
    n_envs: int = knob(64, "Users simulated in parallel (one numpy batch).", lo=1, hi=65536)
    learning_starts: int = knob(2000, "User-steps collected before the first update.", lo=0, hi=100000000)
    train_every: int = knob(1, "Batch steps between gradient updates.", lo=1, hi=10000)
    updates_per_train: int = knob(2, "Gradient updates each time the learner trains.", lo=1, hi=1000)
    log_every: int = knob(2500, "User-steps between metric rows.", lo=1, hi=100000000)
    eval_every: int = knob(10000, "User-steps between evaluations on the validation users.", lo=1, hi=1000000000)
    eval_episodes: int = knob(200, "Episodes per evaluation (run as one batch).", lo=1, hi=100000)
    checkpoint_every: int = knob(0, "User-steps between saves of the model while training, so a killed run keeps "
                                 "its last model; 0 = at every evaluation (eval_every), the default; above "
                                 "total_steps = only at the end.", lo=0, hi=1000000000)
    keep: str = knob("best", "Checkpoint judged on the test users at the end: the best on validation, or the last.",
                     choices=("best", "last"))
    seed: int = knob(0, "Random seed: same seed and config give the same metrics.", lo=0, hi=2**31 - 1)
    algo: str = knob("dqn", "Learner trained in this loop, on the same users, budget and seeds: the DQN, or a rival "
                     "(LinUCB, linear Thompson sampling, REINFORCE with top-K correction).", choices=LEARNERS)
    linucb: LinUCBConfig = field(default_factory=LinUCBConfig)
    thompson: ThompsonConfig = field(default_factory=ThompsonConfig)
    reinforce: ReinforceConfig = field(default_factory=ReinforceConfig)

    @property
    def checkpoint_period(self) -> int:
        """User-steps between checkpoints: ``checkpoint_every``, or by default ``eval_every``, so that a changed
        evaluation period moves the checkpoints with it (a fixed default of 10,000 did not)."""
        return self.checkpoint_every or self.eval_every


_CONFIG_TYPES: dict[str, type] = {
    "CatalogueConfig": CatalogueConfig,
    "AudienceConfig": AudienceConfig,
    "DynamicsConfig": DynamicsConfig,
    "LinUCBConfig": LinUCBConfig,
    "ThompsonConfig": ThompsonConfig,
    "ReinforceConfig": ReinforceConfig,
}
