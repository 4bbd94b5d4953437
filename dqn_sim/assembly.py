"""One way to assemble what a run trains on, for the CLI and the studio alike: a preset, then a JSON file, then
dotted overrides. The preset brings its scenario *and* its agent settings (as RL Zoo ships per-environment
hyperparameters), so the same preset trains the same way wherever it is started."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dqn_sim.config import (
    AgentConfig,
    Config,
    ConfigError,
    ScenarioConfig,
    TrainConfig,
    json_problem,
    leaf_fields,
    parse_override,
)
from dqn_sim.presets import get_preset, preset_agent

PARTS = ("scenario", "agent", "train")


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run is made of."""

    scenario: ScenarioConfig
    agent: AgentConfig
    train: TrainConfig


def from_preset(preset: str) -> RunConfig:
    """The preset's scenario and agent settings, with the default training settings."""
    return RunConfig(get_preset(preset), preset_agent(preset), TrainConfig())


def assemble(preset: str, config: dict[str, Any] | None = None, overrides: Sequence[str] = ()) -> RunConfig:
    """Preset, then ``config`` (a scenario, or ``{"scenario", "agent", "train"}`` such as a run's config.json),
    then ``key=value`` overrides by dotted path: ``agent.lr``, ``train.n_envs``, ``dynamics.slate_size`` or
    ``scenario.dynamics.slate_size``. Raises ConfigError naming the field and what is allowed."""
    base = from_preset(preset)
    parts: dict[str, dict[str, Any]] = {"scenario": base.scenario.to_dict(), "agent": base.agent.to_dict(),
                                        "train": {}}
    if config is not None:
        for key, value in file_parts(config).items():
            parts[key] = _merge(parts[key], value)
    flat: dict[str, dict[str, Any]] = {part: {} for part in PARTS}
    for text in overrides:
        key, value = parse_override(text)
        head, _, rest = key.partition(".")
        if head in PARTS and rest:
            flat[head][rest] = value
        else:
            flat["scenario"][key] = value
    return RunConfig(
        _build(ScenarioConfig, parts["scenario"], flat["scenario"], ""),
        _build(AgentConfig, parts["agent"], flat["agent"], "agent."),
        _build(TrainConfig, parts["train"], flat["train"], "train."),
    )


def file_parts(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A config file by the parts of a run it sets: a run's ``{"scenario", "agent", "train"}`` (or some of them)
    as it is, anything else as a scenario. The studio loads into its forms just the parts a file sets."""
    if not isinstance(config, dict):
        raise ConfigError("the configuration must be a JSON object")
    parts = config if set(config) <= set(PARTS) else {"scenario": config}
    for key, value in parts.items():
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a JSON object, got {type(value).__name__}")
    return parts


SYMBOLS = {"gamma": "γ", "lr": "lr", "tau": "τ", "eps_start": "ε₀", "eps_end": "ε_end"}
MAX_NAMED_CHANGES = 3


def run_name(config: RunConfig, seeds: int = 1) -> str:
    """A run's name that says what was changed: its preset and the settings that differ from the preset's,
    e.g. ``video · γ=0 · seed 0`` (two runs with default settings differ only by their seed), or ``… · seeds 0–2``
    for a group of ``seeds`` runs."""
    preset, first = config.scenario.name, config.train.seed
    seed_text = f"seed {first}" if seeds == 1 else f"seeds {first}–{first + seeds - 1}"
    try:
        base = from_preset(preset)
    except ConfigError:  # a saved or fitted scenario: nothing to diff against
        return f"{preset} · {seed_text}"
    changes = [f"{SYMBOLS.get(path.rsplit('.', 1)[-1], path.rsplit('.', 1)[-1])}={_short(value)}"
               for part in ("agent", "train", "scenario")
               for path, value in _differences(getattr(base, part), getattr(config, part))
               if path not in ("seed", "name")]
    shown = changes[:MAX_NAMED_CHANGES] + ([f"+{len(changes) - MAX_NAMED_CHANGES} more"]
                                           if len(changes) > MAX_NAMED_CHANGES else [])
    return " · ".join([preset, *shown, seed_text])


def _differences(base: Config, other: Config) -> list[tuple[str, Any]]:
    ours = {path: value for path, _, value in leaf_fields(other)}
    return [(path, ours[path]) for path, _, value in leaf_fields(base) if ours.get(path) != value]


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ",".join(map(_short, value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A JSON config file as a dict; ConfigError (one line, naming the file) if it cannot be read."""
    try:
        text = Path(path).read_text()
    except (OSError, ValueError) as e:  # ValueError: not UTF-8
        raise ConfigError(f"{path}: cannot read JSON ({str(e)[:200]})") from None
    try:
        return parse_config(text)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def parse_config(text: str) -> dict[str, Any]:
    """A config file's text (read from disk, or uploaded to the studio) as a dict; ConfigError in one line if it is
    not a JSON object."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:  # ValueError: not JSON, a 5000-digit number
        reason = json_problem(e) if isinstance(e, ValueError) else str(e)
        raise ConfigError(f"cannot read JSON ({reason[:200]})") from None
    if not isinstance(data, dict):
        raise ConfigError("expected a JSON object")
    return data


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _build(cls: type[Config], data: dict, overrides: dict, prefix: str) -> Any:
    try:
        return cls.from_dict(data).with_overrides(overrides)
    except ConfigError as e:
        message = str(e)
        if not prefix:
            raise
        if message.startswith("unknown field "):
            raise ConfigError("unknown field " + prefix + message.removeprefix("unknown field ")) from None
        raise ConfigError(prefix + message) from None
