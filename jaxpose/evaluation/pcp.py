"""Percentage of Correct Parts — the corrected ("strict") PCP of Li et al. 2014 eq. (6).

An estimated part (stick) with end points (e₁, e₂) is correct when

    ‖e₁ − g₁‖ ≤ α·L and ‖e₂ − g₂‖ ≤ α·L,   or   ‖e₂ − g₁‖ ≤ α·L and ‖e₁ − g₂‖ ≤ α·L,

with (g₁, g₂) the ground-truth end points and L = ‖g₁ − g₂‖ the ground-truth part
length; α = 0.5 is the standard value. Both end points must be within the threshold
(not their average, as in the older "PCP" of Ferrari et al. that eq. (6) corrects), and
the end points may be matched either way round. A part is scored only when both its
ground-truth end points are annotated and its length is positive.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from jaxpose.evaluation.pck import check_joints


def pcp_mask(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray,
             parts: Sequence[tuple[str, int, int]], alpha: float = 0.5
             ) -> tuple[np.ndarray, np.ndarray]:
  """Per-part correctness under Li et al. eq. (6).

  Args:
    pred, gt: (N, K, 2) pixel coordinates.
    valid: (N, K) 1 where a ground-truth joint is annotated.
    parts: (name, joint a, joint b) sticks, e.g. ``Skeleton.parts``.
    alpha: the PCP parameter α.

  Returns:
    (correct, counted): (N, P) booleans; ``correct`` implies ``counted``.
  """
  pred, gt, valid = check_joints(pred, gt, valid)
  if not parts:
    raise ValueError("PCP needs parts; this skeleton defines none")
  a = np.array([p[1] for p in parts])
  b = np.array([p[2] for p in parts])
  g1, g2, e1, e2 = gt[:, a], gt[:, b], pred[:, a], pred[:, b]
  length = np.linalg.norm(g1 - g2, axis=-1)
  thr = alpha * length

  def within(e, g):
    d = np.linalg.norm(e - g, axis=-1)
    with np.errstate(invalid="ignore"):
      return d <= thr  # NaN predictions compare False: wrong

  straight = within(e1, g1) & within(e2, g2)
  swapped = within(e2, g1) & within(e1, g2)
  counted = valid[:, a] & valid[:, b] & (length > 0)
  return counted & (straight | swapped), counted


def pcp_per_part(correct: np.ndarray, counted: np.ndarray) -> np.ndarray:
  """(P,) percent correct per part; NaN for a part never scored."""
  n = counted.sum(axis=0)
  with np.errstate(divide="ignore", invalid="ignore"):
    return np.where(n > 0, 100.0 * correct.sum(axis=0) / n, np.nan)


# The columns of the PCP tables (Li et al. Tables 1–2 report the arm columns); a part
# name maps to its column by its suffix, both sides pooled into one column.
PART_COLUMNS = (("Torso", ("torso",)), ("Upper legs", ("upper_leg",)),
                ("Lower legs", ("lower_leg",)), ("Upper arms", ("upper_arm",)),
                ("Lower arms", ("lower_arm",)), ("Shoulders", ("shoulder",)),
                ("Head", ("head",)))


def part_columns(parts: Sequence[tuple[str, int, int]]) -> list[tuple[str, list[int]]]:
  """The table columns present in ``parts``: [(column, [part indices]), ...]."""
  out = []
  for column, suffixes in PART_COLUMNS:
    idx = [i for i, (name, _, _) in enumerate(parts)
           if any(name == s or name.endswith("_" + s) for s in suffixes)]
    if idx:
      out.append((column, idx))
  return out
