"""Saved scenarios: one JSON file per name under ``$DQN_SIM_HOME/scenarios`` (beside the run store).

Plain files rather than database rows, so that a scenario can be read, diffed and shared as is; the
file is the same JSON the Scenario page downloads and ``python -m dqn_sim train --config`` reads.
"""

from __future__ import annotations

import re
from pathlib import Path

from dqn_sim.config import ConfigError, ScenarioConfig
from dqn_sim.store import default_home

_NAME = re.compile(r"^[\w][\w .\-]{0,59}$")


def check_name(name: str) -> str:
    """A usable scenario name (it becomes a file name), stripped; ConfigError says what is allowed."""
    name = name.strip()
    if not _NAME.match(name):
        raise ConfigError(
            f"scenario name must be 1-60 letters, digits, spaces, '-', '_' or '.', not starting with a "
            f"space or punctuation, got {name!r}"
        )
    return name


class ScenarioLibrary:
    """Named scenarios on disk."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.root = Path(home or default_home()) / "scenarios"

    def path(self, name: str) -> Path:
        """The file a scenario of that name is (or would be) saved in."""
        return self.root / f"{check_name(name)}.json"

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.json")) if self.root.is_dir() else []

    def save(self, name: str, scenario: ScenarioConfig) -> ScenarioConfig:
        """Store ``scenario`` under ``name`` (replacing one of that name); returns it renamed."""
        named = scenario.with_overrides({"name": check_name(name)})
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(named.to_json())
        tmp.replace(path)  # atomic: a reader never sees half a file
        return named

    def load(self, name: str) -> ScenarioConfig:
        path = self.path(name)
        if not path.is_file():
            raise ConfigError(f"no saved scenario named {name!r}")
        return ScenarioConfig.from_json(path.read_text())

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)
