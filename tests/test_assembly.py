"""One config assembly for the CLI and the studio: preset (scenario and agent) -> file -> overrides."""

import pytest

from dqn_sim.assembly import RunConfig, assemble, from_preset, run_name
from dqn_sim.config import ConfigError


def test_a_preset_brings_its_agent_settings():
    run = from_preset("recsim-ie")
    assert run.agent.lr == pytest.approx(2e-4) and run.agent.reward_scale == pytest.approx(0.25)
    assert run.scenario.name == "recsim-ie"


def test_a_file_then_overrides_apply_in_that_order():
    run = assemble("video", {"agent": {"lr": 1e-3, "gamma": 0.5}, "train": {"n_envs": 8}},
                   ["agent.gamma=0.9", "dynamics.slate_size=2"])
    assert (run.agent.lr, run.agent.gamma, run.train.n_envs) == (1e-3, 0.9, 8)
    assert run.scenario.dynamics.slate_size == 2


def test_a_bare_scenario_file_is_the_scenario_part():
    run = assemble("video", {"catalogue": {"n_items": 300}})
    assert run.scenario.catalogue.n_items == 300 and run.agent == from_preset("video").agent


@pytest.mark.parametrize(("config", "overrides", "message"), [
    ({"agent": 5}, [], "agent must be a JSON object"),
    (None, ["agent.lr=5"], "agent.lr must be a number in"),
    (None, ["agent.nope=1"], "unknown field agent.nope"),
])
def test_bad_parts_name_the_field(config, overrides, message):
    with pytest.raises(ConfigError, match=message):
        assemble("video", config, overrides)


def test_run_names_say_what_differs_from_the_preset():
    base = from_preset("video")
    assert run_name(base) == "video · seed 0"
    changed = RunConfig(base.scenario, base.agent.with_overrides({"gamma": 0.0}),
                        base.train.with_overrides({"seed": 2}))
    assert run_name(changed) == "video · γ=0 · seed 2"
