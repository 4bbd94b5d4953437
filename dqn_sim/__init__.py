"""dqn_sim: a recommender simulator and a DQN that learns long-term engagement on it."""
