"""Agent presets: named sets of DQN settings laid over a scenario's tuned ones, each setting with why it is there.

"As in the article" is the seed article's DQN: train it beside today's defaults (a run group each) and Compare shows
what the improvements buy. A preset is plain ``--set`` overrides (``overrides``), so the CLI, the studio and a
config file can all reproduce it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dqn_sim.config import AgentConfig, ConfigError

ARTICLE_EPISODE_STEPS = 30  # user-steps of a video session while exploring (random policy: 32.6 on average)


@dataclass(frozen=True)
class AgentPreset:
    name: str
    label: str
    description: str
    settings: dict[str, tuple[Any, str]] = field(default_factory=dict)  # AgentConfig field -> (value, why)

    def overrides(self) -> list[str]:
        """The settings as ``--set`` arguments, e.g. ``agent.loss=mse``."""
        return [f"agent.{k}={v if isinstance(v, str) else json.dumps(v)}" for k, (v, _) in self.settings.items()]

    def apply(self, agent: AgentConfig) -> AgentConfig:
        return agent.with_overrides({k: v for k, (v, _) in self.settings.items()})


AGENT_PRESETS: dict[str, AgentPreset] = {p.name: p for p in (
    AgentPreset("defaults", "Defaults", "Today's DQN: the scenario's tuned settings (double DQN, Huber loss, n-step)."),
    AgentPreset("article", "As in the article", "The seed article's DQN, the baseline of the ablation.", {
        "prioritized": (False, "uniform replay: past transitions sampled alike, none by its TD error"),
        "target_update": ("hard", "the target network is a hard copy of the online one, not a moving average"),
        "loss": ("mse", "squared TD error, without Huber's linear tails"),
        "double_dqn": (False, "the plain max target (the target network both picks and evaluates)"),
        "dueling": (False, "one Q head, no value/advantage split"),
        "n_step": (1, "one-step TD targets: the future is seen only through bootstrapping"),
        "value_norm": ("none", "targets learned in reward units, no PopArt"),
        "lr_schedule": ("constant", "one learning rate throughout"),
        "eps_schedule": ("exponential", "epsilon multiplied by a constant factor, not decayed linearly"),
        "eps_decay_rate": (0.995, "the article's factor per episode"),
        "eps_decay_period": (ARTICLE_EPISODE_STEPS, "once per episode: across the batch an episode ends every "
                             f"~{ARTICLE_EPISODE_STEPS} user-steps on video while exploring"),
    }),
)}


def agent_preset(name: str) -> AgentPreset:
    if name not in AGENT_PRESETS:
        raise ConfigError(f"agent preset must be one of {', '.join(AGENT_PRESETS)}, got {name!r}")
    return AGENT_PRESETS[name]
