"""Sentence-pair regression (STS-B, LCQMC / ATEC-style score files): `task.RegressionTask`."""
