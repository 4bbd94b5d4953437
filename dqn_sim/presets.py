"""Named scenarios a product team recognises; their text and settings live in ``assets/presets.json``."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from dqn_sim.config import ConfigError, ScenarioConfig

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


def get_preset(name: str) -> ScenarioConfig:
    """The preset's scenario; an unknown name raises ConfigError listing the known ones."""
    presets = _presets()
    if name not in presets:
        raise ConfigError(f"preset must be one of {', '.join(presets)}, got {name!r}")
    return ScenarioConfig.from_dict({"name": name, **presets[name]["config"]})
