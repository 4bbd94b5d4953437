"""Shared fixtures: every test gets its own run-store home, so nothing touches ~/.dqn_sim."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_store_home(tmp_path, monkeypatch):
    home = tmp_path / "dqn_sim_home"
    monkeypatch.setenv("DQN_SIM_HOME", str(home))
    return home
