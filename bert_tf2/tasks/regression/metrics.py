"""Regression metrics in NumPy (no SciPy in the library): Pearson, Spearman (ties: average ranks), MSE.

    pearson([1, 2, 3, 4], [1, 3, 2, 4])    # 0.8
    spearman([1, 2, 2, 3], [1, 2, 3, 4])   # 0.9487 (ranks 1, 2.5, 2.5, 4)
"""

import numpy as np


def rankdata(values):
  """Ranks 1..N of `values` (float64); tied values share the average of their ranks (SciPy's "average")."""
  values = np.asarray(values, np.float64).ravel()
  order = np.argsort(values, kind="mergesort")
  ranks = np.empty(len(values), np.float64)
  ranks[order] = np.arange(1, len(values) + 1)
  _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
  sums = np.bincount(inverse.ravel(), weights=ranks)
  return sums[inverse.ravel()] / counts[inverse.ravel()]


def pearson(x, y):
  """Pearson's r of two equal-length sequences; NaN when either is constant (as SciPy) or shorter than 2."""
  x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
  if x.shape != y.shape:
    raise ValueError("pearson: %d values against %d" % (len(x), len(y)))
  if len(x) < 2:
    return float("nan")
  dx, dy = x - x.mean(), y - y.mean()
  norm = np.sqrt(np.dot(dx, dx) * np.dot(dy, dy))
  if norm == 0:
    return float("nan")
  return float(np.clip(np.dot(dx, dy) / norm, -1.0, 1.0))


def spearman(x, y):
  """Spearman's rho: Pearson's r of the average ranks."""
  return pearson(rankdata(x), rankdata(y))


def mean_squared_error(labels, predictions):
  labels, predictions = np.asarray(labels, np.float64).ravel(), np.asarray(predictions, np.float64).ravel()
  return float(np.mean((predictions - labels) ** 2)) if len(labels) else float("nan")


def regression_scores(labels, predictions):
  """{eval_pearson, eval_spearman, eval_mse} of scores [N] against predictions [N]."""
  return {"eval_pearson": pearson(predictions, labels), "eval_spearman": spearman(predictions, labels),
          "eval_mse": mean_squared_error(labels, predictions)}
