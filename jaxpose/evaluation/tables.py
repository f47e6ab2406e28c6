"""Paper-layout tables: per-joint values pooled into the columns of a skeleton's groups."""
from __future__ import annotations

import re
from typing import Callable

import numpy as np

from jaxpose import skeleton as skel
from jaxpose.evaluation.pck import correct_mask, pck_per_joint


def group_table(correct: np.ndarray, counted: np.ndarray, skeleton: skel.Skeleton) -> dict:
  """Pools correctness over each group's joints (count-weighted, like the official Total).

  Returns {group name: percent, ..., "Mean": percent over all grouped joints}; for MPII
  the grouped joints exclude pelvis and thorax, so "Mean" is the official Total.
  """
  out = {}
  pooled = []
  for name, joints in skeleton.groups:
    idx = list(joints)
    pooled += idx
    out[name] = _ratio(correct[:, idx], counted[:, idx])
  if not pooled:
    pooled = list(range(skeleton.num_joints))
  out["Mean"] = _ratio(correct[:, pooled], counted[:, pooled])
  return out


def _ratio(correct, counted) -> float:
  n = counted.sum()
  return float(100.0 * correct.sum() / n) if n else float("nan")


def _pck_metric(alpha: float, kind: str) -> Callable:
  def metric(pred, gt, valid, norm, skeleton):
    correct, counted = correct_mask(pred, gt, valid, norm, alpha)
    return group_table(correct, counted, skeleton), pck_per_joint(correct, counted)
  metric.__name__ = f"{kind}@{alpha:g}"
  return metric


def _parse(name: str):
  m = re.fullmatch(r"(pckh|pck)@([0-9.]+)", name.strip().lower())
  if not m:
    raise ValueError(f"unknown metric {name!r}; known: pckh@ALPHA, pck@ALPHA")
  return m.group(1), float(m.group(2))


METRICS = {"pckh": "PCKh", "pck": "PCK"}


def compute_metrics(names, pred, gt, valid, norm, skeleton: skel.Skeleton) -> dict:
  """{"PCKh@0.5": {"Head": .., ..., "Mean": ..}, ...} plus per-joint values under "per_joint"."""
  results, per_joint = {}, {}
  for name in names:
    kind, alpha = _parse(name)
    title = f"{METRICS[kind]}@{alpha:g}"
    table, joints = _pck_metric(alpha, kind)(pred, gt, valid, norm, skeleton)
    results[title] = table
    per_joint[title] = {j: float(v) for j, v in zip(skeleton.joints, joints)}
  return {"metrics": results, "per_joint": per_joint}


def format_table(title: str, row: dict, width: int = 9) -> str:
  """One header line and one value line, like the papers' tables."""
  cols = list(row)
  head = f"{title:<12}" + "".join(f"{c[:width - 1]:>{width}}" for c in cols)
  vals = f"{'':<12}" + "".join(f"{row[c]:>{width}.2f}" for c in cols)
  return head + "\n" + vals
