"""Named scenarios a product team recognises; their text and settings live in ``assets/presets.json``."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from dqn_sim.config import AgentConfig, ConfigError, ScenarioConfig

PRESETS_FILE = Path(__file__).resolve().parent.parent / "assets" / "presets.json"
DEFAULT_PRESET = "video"


@lru_cache(maxsize=1)
def _presets() -> dict[str, dict]:
    return json.loads(PRESETS_FILE.read_text())


def preset_names() -> list[str]:
    return list(_presets())


def describe_presets() -> dict[str, str]:
    """One-line description of every preset, in display order."""
    return {name: p["description"] for name, p in _presets().items()}


def preset_title(name: str) -> str:
    return _presets()[name]["title"]


def _entry(name: str) -> dict:
    presets = _presets()
    if name not in presets:
        raise ConfigError(f"preset must be one of {', '.join(presets)}, got {name!r}")
    return presets[name]


def get_preset(name: str) -> ScenarioConfig:
    """The preset's scenario; an unknown name raises ConfigError listing the known ones."""
    return ScenarioConfig.from_dict({"name": name, **_entry(name)["config"]})


def preset_agent(name: str) -> AgentConfig:
    """The DQN hyperparameters tuned for a preset (AgentConfig defaults plus the preset's few changes),
    as RL Zoo ships per-environment hyperparameters. Unknown names give the plain defaults."""
    presets = _presets()
    return AgentConfig.from_dict(presets[name].get("agent", {}) if name in presets else {})
