"""Scenario/agent/train configs: validation names the field and range; JSON round trip is exact."""

import json

import pytest

from dqn_sim.config import AgentConfig, ConfigError, ScenarioConfig, TrainConfig, leaf_fields
from dqn_sim.presets import describe_presets, get_preset, preset_names


def test_invalid_value_names_dotted_field_and_range():
    with pytest.raises(ConfigError, match=r"^audience\.n_users must be an integer in \[1, 1000000\], got -5$"):
        ScenarioConfig().with_overrides({"audience.n_users": -5})


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("dynamics.choice_model", "softmax", "dynamics.choice_model must be one of 'logit', 'proportional'"),
        ("catalogue.quality_std", float("nan"), "catalogue.quality_std must be a number in [0, 5]"),
        ("catalogue.n_items", 2.5, "catalogue.n_items must be an integer"),
        ("audience.budget_observed", "yes", "audience.budget_observed must be true or false"),
        ("dynamics.n_candidates", 500, "dynamics.n_candidates must be an integer in [0, 200]"),
        ("audience.segment_shares", [1.0], "audience.segment_shares must be empty or 4"),
    ],
)
def test_each_kind_of_bad_value_is_explained(path, value, message):
    with pytest.raises(ConfigError) as info:
        ScenarioConfig().with_overrides({path: value})
    assert str(info.value).startswith(message)


def test_unknown_keys_are_an_error_not_dropped():
    with pytest.raises(ConfigError, match="unknown field catalogue.n_itemz"):
        ScenarioConfig.from_dict({"catalogue": {"n_itemz": 3}})
    with pytest.raises(ConfigError, match="unknown field lr2"):
        AgentConfig.from_dict({"lr2": 1})


@pytest.mark.parametrize("name", preset_names())
def test_presets_round_trip_through_json(name):
    scenario = get_preset(name)
    assert ScenarioConfig.from_json(scenario.to_json()) == scenario
    assert json.loads(scenario.to_json())["name"] == name


def test_presets_cover_the_product_scenarios():
    assert set(describe_presets()) == {"video", "news", "live", "shop", "ads", "recsim-ie"}
    assert all(len(text) > 20 for text in describe_presets().values())


def test_every_field_is_documented_with_allowed_values():
    for cfg in (ScenarioConfig(), AgentConfig(), TrainConfig()):
        for path, f, _ in leaf_fields(cfg):
            assert f.metadata.get("help"), f"{path} has no help text"


def test_agent_cross_field_rules():
    with pytest.raises(ConfigError, match=r"eps_end must be a number in \[0, 0.5\]"):
        AgentConfig(eps_start=0.5, eps_end=0.9)
    with pytest.raises(ConfigError, match="hidden_sizes must be a non-empty list"):
        AgentConfig(hidden_sizes=[])
