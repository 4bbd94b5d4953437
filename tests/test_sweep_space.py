"""``--param``: ranges, choices and whole knobs read against the knob metadata; every bad range is one line."""

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from dqn_sim.config import ConfigError
from dqn_sim.sweep.space import Param, grid_size, parse_param, parse_params


def test_a_log_range_a_linear_range_and_choices():
    lr, gamma, n_step = parse_params(["agent.lr=1e-4:3e-3:log", "agent.gamma=0.8:0.99", "agent.n_step=1,3,5"])
    assert lr.distribution() == FloatDistribution(1e-4, 3e-3, log=True)
    assert gamma.distribution() == FloatDistribution(0.8, 0.99, log=False)
    assert n_step.distribution() == CategoricalDistribution((1, 3, 5))


def test_the_scale_defaults_to_log_where_the_knob_spans_decades_and_can_be_forced():
    assert parse_param("agent.lr=1e-4:3e-3").log  # lr is allowed from 1e-7 to 1
    assert not parse_param("agent.gamma=0.5:0.9").log  # gamma starts at 0
    assert not parse_param("agent.lr=1e-4:3e-3:linear").log
    assert parse_param("train.n_envs=16:256").distribution() == IntDistribution(16, 256, log=True)


def test_a_bare_knob_searches_its_whole_allowed_range_or_all_its_choices():
    assert parse_param("agent.lr") == Param("agent.lr", lo=1e-7, hi=1.0, log=True)
    assert parse_param("agent.n_step") == Param("agent.n_step", lo=1, hi=50, log=False, integer=True)
    assert parse_param("agent.dueling").choices == (False, True)
    assert parse_param("agent.loss").choices == ("huber", "mse")


def test_scenario_knobs_by_their_path_with_or_without_the_scenario_prefix():
    assert parse_param("scenario.dynamics.slate_size=1,3") == parse_param("dynamics.slate_size=1,3")
    assert parse_param("dynamics.slate_size=1,3").choices == (1, 3)


def test_a_param_prints_back_to_what_parses_to_it():
    for text in ("agent.lr=0.0001:0.003:log", "agent.n_step=1,3,5", "agent.loss=huber,mse", "train.n_envs=16:64:log"):
        assert parse_param(parse_param(text).text()) == parse_param(text)


def test_grid_points_spread_over_ranges():
    lr = parse_param("agent.lr=1e-4:1e-2:log")
    assert lr.grid() == pytest.approx([1e-4, 1e-3, 1e-2])
    assert parse_param("agent.n_step=1:5:linear").grid() == [1, 3, 5]
    assert grid_size(parse_params(["agent.lr=1e-4:1e-2", "agent.n_step=1,3"])) == 6


@pytest.mark.parametrize("text, says", [
    ("agent.nope=1:2", "unknown knob 'agent.nope'"),
    ("agent.gamma=0.99:0.8", "low end 0.99 must be below its high end 0.8"),
    ("agent.gamma=0.9:0.9", "must be below"),
    ("agent.lr=0:1e-3:log", ": 0 is not allowed"),  # lr's knob starts at 1e-7: out of range before the log check
    ("agent.gamma=0:0.99:log", "a log range must lie above 0"),
    ("agent.max_grad_norm=-1:5", "-1 is not allowed: the knob takes a number in [0, 1000000]"),
    ("agent.gamma=0.8:1.5", "1.5 is not allowed: the knob takes a number in [0, 0.9999]"),
    ("agent.n_step=1,3,99", "99 is not allowed: the knob takes an integer in [1, 50]"),
    ("agent.n_step=1.5:4", "1.5 is not allowed"),
    ("agent.loss=huber,l1", "'l1' is not allowed: the knob takes one of 'huber', 'mse'"),
    ("agent.loss=0:1", "agent.loss takes choices"),
    ("agent.dueling=yes", "'yes' is not allowed: the knob takes true or false"),
    ("agent.hidden_sizes=[32],[64]", "is a list and cannot be searched"),
    ("agent.lr=1e-4:3e-3:cubic", "a range is LO:HI, LO:HI:log or LO:HI:linear"),
    ("train.total_steps=1000:2000", "set by --steps"),
    ("train.seed=0,1", "set by --seed and --seeds"),
    ("name", "is free text"),
])
def test_bad_params_are_one_line_naming_them(text, says):
    with pytest.raises(ConfigError) as e:
        parse_param(text)
    message = str(e.value)
    assert says in message and message.startswith(f"--param {text}") and "\n" not in message


def test_the_same_knob_twice_is_refused():
    with pytest.raises(ConfigError, match="--param agent.lr is given more than once"):
        parse_params(["agent.lr=1e-4:1e-3", "agent.lr=1e-3:1e-2"])
