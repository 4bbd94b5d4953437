"""Policies: the shared interface, baselines, replay buffers, Q-networks and the DQN agent."""
