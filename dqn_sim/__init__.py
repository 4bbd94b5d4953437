"""dqn_sim: a recommender simulator and a DQN that learns long-term engagement on it."""

from dqn_sim.sim.env import make_env, make_vec_env

__all__ = ["make_env", "make_vec_env"]
