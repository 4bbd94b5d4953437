"""Training: the collect/learn/evaluate loop, background jobs, evaluation and metrics."""
