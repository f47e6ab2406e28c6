"""The paper-layout tables: one row of columns per metric, as the benchmarks print them.

The metric registry that fills them (names, thresholds, ``compute_metrics``) is
``jaxpose.evaluation.metrics``.

Joint tables (PCKh, PCK, …) follow the official MPII ``genTablePCK.m`` /
``computePCK.m``: each column (Head, Shoulder, …) is the plain mean of its joints' PCK
(``(pck(lsho) + pck(rsho)) / 2``), "UBody" pools shoulders, elbows and wrists
(``computePCK.m``: ``dist(1, 7:12, :)`` of the toolkit's 14-joint order r-ank … l-wri, neck,
head = r-wri, r-elb, r-sho, l-sho, l-elb, l-wri), "Total" pools every grouped joint
(count-weighted; for MPII the 14 joints without pelvis and thorax — the official figure),
and "Mean" is the plain mean of the per-joint values that some ports print
(``np.mean(PCKh)`` with pelvis and thorax masked). A column with no annotated joint is
NaN; with one of its two joints never annotated it is the other joint's value.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from jaxpose import skeleton as skel
from jaxpose.evaluation.pck import pck_per_joint
from jaxpose.evaluation.pcp import part_columns, pcp_per_part

UBODY_GROUPS = ("Shoulder", "Elbow", "Wrist")


def nanmean(x) -> float:
  """Mean of the non-NaN values (a column whose joints were never scored is NaN, not 0)."""
  x = np.asarray(x, np.float64)
  x = x[~np.isnan(x)]
  return float(x.mean()) if x.size else float("nan")


def pooled_percent(correct: np.ndarray, counted: np.ndarray) -> float:
  """Percent correct pooled over every counted entry (count-weighted, the tables' Total)."""
  n = counted.sum()
  return float(100.0 * correct.sum() / n) if n else float("nan")


def grouped_joints(skeleton: skel.Skeleton) -> list[int]:
  """The joints a table's Total pools: all grouped joints (MPII: all but pelvis, thorax)."""
  idx = sorted({j for _, joints in skeleton.groups for j in joints})
  return idx or list(range(skeleton.num_joints))


def ubody_joints(skeleton: skel.Skeleton) -> Optional[list[int]]:
  """Shoulders, elbows and wrists (the official "UBody"), or None if a column is absent."""
  groups = dict(skeleton.groups)
  if not all(g in groups for g in UBODY_GROUPS):
    return None
  return sorted({j for g in UBODY_GROUPS for j in groups[g]})


def column_means(per_joint: np.ndarray, skeleton: skel.Skeleton) -> dict:
  """The skeleton's columns (Head, Shoulder, …), each the plain mean of its joints' values
  (``genTablePCK.m``: ``(pck(lsho) + pck(rsho)) / 2``)."""
  return {name: nanmean(per_joint[list(idx)]) for name, idx in skeleton.groups}


def joint_table(per_joint: np.ndarray, correct: np.ndarray, counted: np.ndarray,
                skeleton: skel.Skeleton) -> dict:
  """The official MPII row: columns (mean of their joints), UBody, Total (pooled), Mean."""
  row = column_means(per_joint, skeleton)
  ub = ubody_joints(skeleton)
  if ub is not None:
    row["UBody"] = pooled_percent(correct[:, ub], counted[:, ub])
  pooled = grouped_joints(skeleton)
  row["Total"] = pooled_percent(correct[:, pooled], counted[:, pooled])
  row["Mean"] = nanmean(per_joint[pooled])
  return row


def group_table(correct: np.ndarray, counted: np.ndarray, skeleton: skel.Skeleton) -> dict:
  """``joint_table`` from (N, K) correctness and counted masks."""
  return joint_table(pck_per_joint(correct, counted), correct, counted, skeleton)


def accuracy_table(correct: np.ndarray, counted: np.ndarray,
                   skeleton: skel.Skeleton) -> tuple[dict, np.ndarray]:
  """Row of a per-joint classification accuracy (visibility, Chen §3.5 Table 2): the skeleton's
  columns (mean of their joints), Total pooled over *every* joint (pelvis and thorax too: the
  report's accuracy is over all k joints, not the PCKh Total's 14). Returns (row, (K,) per joint)."""
  per_joint = pck_per_joint(correct, counted)
  row = column_means(per_joint, skeleton)
  row["Total"] = pooled_percent(correct, counted)
  return row, per_joint


def part_table(correct: np.ndarray, counted: np.ndarray, parts) -> tuple[dict, np.ndarray]:
  """PCP row: Torso / Upper legs / Lower legs / Upper arms / Lower arms / (Shoulders) / Head
  (each the mean of its left and right parts), Total (pooled over parts), Mean."""
  per_part = pcp_per_part(correct, counted)
  row = {column: nanmean(per_part[idx]) for column, idx in part_columns(parts)}
  row["Total"] = pooled_percent(correct, counted)
  row["Mean"] = nanmean(per_part)
  return row, per_part


def format_table(title: str, row: dict, width: int = 9) -> str:
  """One header line and one value line, like the papers' tables; NaN prints as "-"."""
  first = max(12, len(title) + 2)
  widths = [max(width, len(c) + 2) for c in row]
  head = f"{title:<{first}}" + "".join(f"{c:>{w}}" for c, w in zip(row, widths))
  vals = f"{'':<{first}}" + "".join(f"{number(v):>{w}}" for v, w in zip(row.values(), widths))
  return head + "\n" + vals


def number(v, decimals: int = 2) -> str:
  """A table value: ``decimals`` places, three for a magnitude below 1 (Li et al.'s errors,
  0.131 against 0.284, would otherwise lose their last digit), "-" for NaN."""
  if _isnan(v):
    return "-"
  v = float(v)
  return f"{v:.{3 if 0 < abs(v) < 1 else decimals}f}"


def _isnan(v) -> bool:
  try:
    return math.isnan(float(v))
  except (TypeError, ValueError):
    return False
