"""Hyperparameter sweeps: an Optuna study over knobs of the agent, the training or the scenario.

``space`` reads ``--param`` ranges against the knob metadata, ``study`` keeps the study in an RDB storage (a SQLite
file beside the run store by default), ``trial`` trains one trial (a configuration on several seeds, pruned on its
validation curve, every member a stored run), ``executors`` runs trials in local processes or as Ray tasks,
``driver`` keeps the executor busy until the study has its trials, ``cli`` is ``python -m dqn_sim sweep``.
"""
