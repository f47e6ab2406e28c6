"""PCK-family metrics: a joint is correct when its distance / normaliser ≤ α.

The comparison is ``<=`` as in the official MPII evaluation code (``scaled_uv_err <=
threshold``); unannotated joints are excluded from both numerator and denominator.
PCKh uses the record's ``norm`` (0.6 × head-box diagonal); other normalisers (torso
size, a fraction of the crop height) are passed the same way.
"""
from __future__ import annotations

import numpy as np


def correct_mask(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray, norm: np.ndarray,
                 alpha: float) -> tuple[np.ndarray, np.ndarray]:
  """Per-joint correctness.

  Args:
    pred, gt: (N, K, 2) pixel coordinates.
    valid: (N, K) 1 where the joint is annotated (counted).
    norm: (N,) or (N, K) normaliser in pixels.
    alpha: threshold as a fraction of the normaliser.

  Returns:
    (correct, counted): (N, K) booleans; ``correct`` implies ``counted``.
  """
  pred = np.asarray(pred, np.float64)
  gt = np.asarray(gt, np.float64)
  if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 2:
    raise ValueError(f"pred and gt must both be (N, K, 2); got {pred.shape} and {gt.shape}")
  counted = np.asarray(valid) > 0
  if counted.shape != pred.shape[:2]:
    raise ValueError(f"valid must be (N, K) = {pred.shape[:2]}, got {counted.shape}")
  norm = np.asarray(norm, np.float64)
  if norm.ndim == 1:
    norm = norm[:, None]
  dist = np.linalg.norm(pred - gt, axis=-1)
  with np.errstate(divide="ignore", invalid="ignore"):
    scaled = dist / norm
  return counted & (scaled <= alpha), counted


def pck_per_joint(correct: np.ndarray, counted: np.ndarray) -> np.ndarray:
  """(K,) percent correct per joint; NaN for a joint never annotated."""
  n = counted.sum(axis=0)
  with np.errstate(divide="ignore", invalid="ignore"):
    return np.where(n > 0, 100.0 * correct.sum(axis=0) / n, np.nan)


def pckh(pred, gt, valid, norm, alpha: float = 0.5) -> np.ndarray:
  """PCKh@α per joint in percent (the official MPII definition)."""
  return pck_per_joint(*correct_mask(pred, gt, valid, norm, alpha))
