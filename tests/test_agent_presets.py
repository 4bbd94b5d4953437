"""Agent presets: "as in the article" is the seed article's DQN, reachable from the CLI as plain --set overrides."""

from __future__ import annotations

import dataclasses

import numpy as np

from dqn_sim.agent_presets import AGENT_PRESETS, agent_preset
from dqn_sim.agents.dqn import DQNAgent
from dqn_sim.assembly import assemble
from dqn_sim.cli import build_parser, load_configs
from dqn_sim.config import AgentConfig
from dqn_sim.presets import preset_agent


def test_every_setting_is_an_agent_knob_with_a_reason() -> None:
    knobs = {f.name for f in dataclasses.fields(AgentConfig)}
    for preset in AGENT_PRESETS.values():
        for name, (_, why) in preset.settings.items():
            assert name in knobs and len(why) > 10, (preset.name, name)
    assert AGENT_PRESETS["defaults"].apply(preset_agent("video")) == preset_agent("video")


def test_as_in_the_article_is_the_plain_dqn() -> None:
    article = agent_preset("article").apply(preset_agent("video"))
    assert not article.prioritized and article.target_update == "hard" and article.loss == "mse"
    assert not article.double_dqn and not article.dueling and article.n_step == 1
    assert article.eps_schedule == "exponential" and article.eps_decay_rate == 0.995
    # one decay per episode of the batch: after about 920 episodes of 30 steps epsilon reaches its floor (0.01)
    dqn = DQNAgent(obs_dim=2, n_items=3, item_features_IF=np.zeros((3, 1)), slate_size=1, config=article, seed=0)
    assert dqn.epsilon(0, 250_000) == 1.0 and dqn.epsilon(30, 250_000) == 0.995
    assert dqn.epsilon(920 * 30, 250_000) == 0.01


def test_the_preset_is_set_overrides_and_the_cli_lays_it_before_set() -> None:
    article = agent_preset("article")
    assert assemble("video", overrides=article.overrides()).agent == article.apply(preset_agent("video"))
    args = build_parser().parse_args(["train", "--out", "x", "--agent-preset", "article", "--set", "agent.n_step=3"])
    run = load_configs(args)
    assert run.agent.loss == "mse" and run.agent.n_step == 3  # --set has the last word
