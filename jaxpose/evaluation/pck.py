"""PCK-family metrics: a joint is correct when its distance / normaliser ≤ α.

PCK(α) of Ke et al. 2018 eq. (2) (and Tang & Wu 2019 §4): the fraction of joints whose
distance to the ground truth, divided by a per-person normaliser H, is within α. Eq. (2)
writes ``< α``; the official MPII evaluation (``computePCK.m``: ``d <= range(k)``) and
its HRNet port use ``<=``, which is what every jaxpose number uses, so a distance
exactly at the threshold counts as correct. Unannotated joints (``jnt_missing``; here
``valid == 0``) are excluded from numerator and denominator, as is any person whose
normaliser is not a positive finite number (it cannot be scored).

The normalisers:

* PCKh — ``norm`` = SC_BIAS 0.6 × head-box diagonal (MPII ``util_get_head_size.m``);
  eq. (2)'s "half of the head size" is this quantity in the official code.
* PCK — the torso size, distance left shoulder – right hip of the ground truth
  (``Skeleton.torso``; LSP person-centric, FLIC likewise): ``torso_norm``.
* PCK at a fraction of the height — Chen (UCSD course report) §3.5 scores a joint correct
  at ≤ 1/12 of the height of the image fed to the network, i.e. here the crop height.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def correct_mask(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray, norm: np.ndarray,
                 alpha: float) -> tuple[np.ndarray, np.ndarray]:
  """Per-joint correctness, ``dist / norm <= alpha`` (Ke et al. eq. (2), inclusive).

  Args:
    pred, gt: (N, K, 2) pixel coordinates. A NaN prediction counts as wrong (the
      official code replaces NaN predictions by ``inf``).
    valid: (N, K) 1 where the joint is annotated (counted).
    norm: (N,) or (N, K) normaliser in pixels; a non-finite or non-positive entry
      removes that person (or joint) from the count.
    alpha: threshold as a fraction of the normaliser.

  Returns:
    (correct, counted): (N, K) booleans; ``correct`` implies ``counted``.
  """
  scaled, counted = scaled_distance(pred, gt, valid, norm)
  with np.errstate(invalid="ignore"):
    return counted & (scaled <= alpha), counted


def check_joints(pred, gt, valid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """``pred``, ``gt`` as (N, K, 2) float64 and ``valid`` as an (N, K) bool mask; ValueError
  naming the shapes when they disagree."""
  pred = np.asarray(pred, np.float64)
  gt = np.asarray(gt, np.float64)
  if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 2:
    raise ValueError(f"pred and gt must both be (N, K, 2); got {pred.shape} and {gt.shape}")
  valid = np.asarray(valid) > 0
  if valid.shape != pred.shape[:2]:
    raise ValueError(f"valid must be (N, K) = {pred.shape[:2]}, got {valid.shape}")
  return pred, gt, valid


def scaled_distance(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray,
                    norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(N, K) ``‖pred − gt‖₂ / norm`` and the (N, K) mask of joints that are scored."""
  pred, gt, counted = check_joints(pred, gt, valid)
  norm = np.asarray(norm, np.float64)
  if norm.ndim == 1:
    norm = norm[:, None]
  try:
    norm = np.broadcast_to(norm, counted.shape)
  except ValueError:
    raise ValueError(f"norm must be (N,) or (N, K) with (N, K) = {counted.shape}, "
                     f"got {np.shape(norm)}") from None
  with np.errstate(invalid="ignore"):
    usable = np.isfinite(norm) & (norm > 0)
  counted = counted & usable
  dist = np.linalg.norm(pred - gt, axis=-1)
  dist = np.where(np.isnan(dist), np.inf, dist)
  with np.errstate(divide="ignore", invalid="ignore"):
    scaled = np.where(usable, dist / np.where(usable, norm, 1.0), np.nan)
  return scaled, counted


def pck_per_joint(correct: np.ndarray, counted: np.ndarray) -> np.ndarray:
  """(K,) percent correct per joint (eq. (2) per keypoint); NaN for a joint never counted."""
  n = counted.sum(axis=0)
  with np.errstate(divide="ignore", invalid="ignore"):
    return np.where(n > 0, 100.0 * correct.sum(axis=0) / n, np.nan)


def pckh(pred, gt, valid, norm, alpha: float = 0.5) -> np.ndarray:
  """PCKh@α per joint in percent (the official MPII definition, Ke et al. eq. (2))."""
  return pck_per_joint(*correct_mask(pred, gt, valid, norm, alpha))


def torso_norm(gt: np.ndarray, valid: np.ndarray, pair: Sequence[int]) -> np.ndarray:
  """(N,) torso size ‖gt[a] − gt[b]‖₂ for the joint pair ``pair`` (PCK's person-centric
  normaliser, Tang & Wu §4: "for LSP, the distance is normalized by the torso size").

  NaN where either endpoint is unannotated, so the person is not scored.
  """
  a, b = int(pair[0]), int(pair[1])
  gt = np.asarray(gt, np.float64)
  valid = np.asarray(valid) > 0
  d = np.linalg.norm(gt[:, a] - gt[:, b], axis=-1)
  return np.where(valid[:, a] & valid[:, b], d, np.nan)


def auc_alphas(max_alpha: float, step: float = 0.01) -> np.ndarray:
  """The thresholds 0, step, …, max_alpha of the official curve (``range = 0:0.01:0.5``)."""
  n = int(round(max_alpha / step))
  if n < 1 or abs(n * step - max_alpha) > 1e-9:
    raise ValueError(f"AUC range 0..{max_alpha} is not a whole number of {step} steps")
  return np.linspace(0.0, n * step, n + 1)


def pck_curve(pred, gt, valid, norm, alphas: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
  """Correctness at every threshold of a PCK curve (one distance computation).

  Returns:
    (correct, counted): (A, N, K) and (N, K) booleans.
  """
  scaled, counted = scaled_distance(pred, gt, valid, norm)
  alphas = np.asarray(alphas, np.float64)
  with np.errstate(invalid="ignore"):
    correct = counted[None] & (scaled[None] <= alphas[:, None, None])
  return correct, counted


def area_under_curve(alphas: np.ndarray, values: np.ndarray) -> float:
  """AUC in percent as the MPII toolkit's ``area_under_curve(scale01(range), pck)``.

  The toolkit integrates the linear interpolation of the curve (``quadgk`` of
  ``interp1``) over the thresholds rescaled to [0, 1], i.e. the trapezoid rule:
  ``AUC = ∫₀¹ PCK(α_max · t) dt``. For 51 equally spaced thresholds this is
  ``(Σ PCK − (PCK(0) + PCK(α_max)) / 2) / 50``, not the plain mean of the 51 values.
  """
  alphas = np.asarray(alphas, np.float64)
  values = np.asarray(values, np.float64)
  if alphas.size < 2 or np.isnan(values).any():
    return float("nan")
  t = (alphas - alphas.min()) / (alphas.max() - alphas.min())
  return float(np.sum((t[1:] - t[:-1]) * (values[1:] + values[:-1]) / 2.0))
