"""The metric registry and the paper-layout tables.

``compute_metrics(["pckh@0.5", "pckh@0.1", "auc", "pck@0.2", "pcp@0.5", ...], ...)``
returns ``{"metrics": {TITLE: {column: percent}}, "per_joint": {TITLE: {joint or part:
percent}}}``. The metric names (case-insensitive; ``@α`` may be omitted for the default,
and α may be written as a fraction, e.g. ``pck_height@1/12``):

==================  ===================  ==========================================================
name                title                definition
==================  ===================  ==========================================================
pckh@α (0.5)        PCKh@α               Ke et al. eq. (2) with the MPII head normaliser ``norm``
pck@α (0.2)         PCK@α                eq. (2) with the torso size (``Skeleton.torso``, l-sho–r-hip)
pck_height@α (1/12) PCK-height@α         eq. (2) with the crop height (Chen §3.5: 1/12 of the height
                                         of the image the network sees); needs ``crop_height``
pck_image@α (1/12)  PCK-image@α          eq. (2) with the original image height; needs ``image_height``
pckh_occluded@α     PCKh-occluded@α      PCKh on invisible joints only (visible == 0, annotated):
                                         Tang & Wu Table 3; needs ``visible``
hard10@α (0.5)      Hard10@α             Tang & Wu §4.3 ablation metric: mean PCKh over the ten hard
                                         joints (elbows, wrists, hips, knees, ankles) = mean of the
                                         five L/R columns (their Table 7 "Mean"); columns Invisible /
                                         Visible / Overall as their Table 6 (NaN without ``visible``)
hard10_pck@α (0.2)  Hard10-PCK@α         the same mean of the ten hard joints with the torso PCK@α
                                         (LSP has no head boxes; PBN comparison on LSP)
pcp@α (0.5)         PCP@α                Li et al. eq. (6): both end points within α × GT part length,
                                         either matching of the end points (strict/corrected PCP)
auc@α_max (0.5)     AUC (or AUC@α_max)   area under the PCKh Total curve, α = 0, 0.01, …, α_max,
                                         official MPII ``area_under_curve`` (trapezoid on [0, 1])
pck_auc@α_max (0.2) PCK-AUC@α_max        the same on the torso PCK curve (LSP toolkit range 0:0.01:0.2)
flic@r (20)         FLIC-acc@r           Li et al. eq. (7) at one r (torso r-sho–l-hip = 100 px)
==================  ===================  ==========================================================

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

import dataclasses
import math
import re
from typing import Callable, Optional

import numpy as np

from jaxpose import skeleton as skel
from jaxpose.evaluation.curves import flic_torso
from jaxpose.evaluation.pck import (area_under_curve, auc_alphas, correct_mask, pck_curve,
                                    pck_per_joint, torso_norm)
from jaxpose.evaluation.pcp import part_columns, pcp_mask, pcp_per_part

UBODY_GROUPS = ("Shoulder", "Elbow", "Wrist")
HARD_GROUPS = ("Elbow", "Wrist", "Hip", "Knee", "Ankle")


# ----------------------------------------------------------------------------- tables

def _nanmean(x) -> float:
  x = np.asarray(x, np.float64)
  x = x[~np.isnan(x)]
  return float(x.mean()) if x.size else float("nan")


def _ratio(correct: np.ndarray, counted: np.ndarray) -> float:
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


def joint_table(per_joint: np.ndarray, correct: np.ndarray, counted: np.ndarray,
                skeleton: skel.Skeleton) -> dict:
  """The official MPII row: columns (mean of their joints), UBody, Total (pooled), Mean."""
  row = {name: _nanmean(per_joint[list(idx)]) for name, idx in skeleton.groups}
  ub = ubody_joints(skeleton)
  if ub is not None:
    row["UBody"] = _ratio(correct[:, ub], counted[:, ub])
  pooled = grouped_joints(skeleton)
  row["Total"] = _ratio(correct[:, pooled], counted[:, pooled])
  row["Mean"] = _nanmean(per_joint[pooled])
  return row


def group_table(correct: np.ndarray, counted: np.ndarray, skeleton: skel.Skeleton) -> dict:
  """``joint_table`` from (N, K) correctness and counted masks."""
  return joint_table(pck_per_joint(correct, counted), correct, counted, skeleton)


def part_table(correct: np.ndarray, counted: np.ndarray, parts) -> tuple[dict, np.ndarray]:
  """PCP row: Torso / Upper legs / Lower legs / Upper arms / Lower arms / (Shoulders) / Head
  (each the mean of its left and right parts), Total (pooled over parts), Mean."""
  per_part = pcp_per_part(correct, counted)
  row = {column: _nanmean(per_part[idx]) for column, idx in part_columns(parts)}
  row["Total"] = _ratio(correct, counted)
  row["Mean"] = _nanmean(per_part)
  return row, per_part


def format_table(title: str, row: dict, width: int = 9) -> str:
  """One header line and one value line, like the papers' tables; NaN prints as "-"."""
  first = max(12, len(title) + 2)
  widths = [max(width, len(c) + 2) for c in row]
  head = f"{title:<{first}}" + "".join(f"{c:>{w}}" for c, w in zip(row, widths))
  vals = f"{'':<{first}}" + "".join(
      f"{'-':>{w}}" if _isnan(v) else f"{v:>{w}.2f}" for v, w in zip(row.values(), widths))
  return head + "\n" + vals


def _isnan(v) -> bool:
  try:
    return math.isnan(float(v))
  except (TypeError, ValueError):
    return False


# ----------------------------------------------------------------------------- registry

@dataclasses.dataclass(frozen=True)
class EvalInputs:
  """Everything a metric may read. Coordinates in image pixels, 0-based."""
  pred: np.ndarray                          # (N, K, 2)
  gt: np.ndarray                            # (N, K, 2)
  valid: np.ndarray                         # (N, K) annotated
  norm: Optional[np.ndarray]                # (N,) PCKh normaliser (0.6 × head-box diagonal)
  skeleton: skel.Skeleton
  visible: Optional[np.ndarray] = None      # (N, K) not occluded
  crop_height: Optional[np.ndarray] = None  # (N,) network input height in image pixels
  image_height: Optional[np.ndarray] = None  # (N,) original image height


@dataclasses.dataclass(frozen=True)
class MetricSpec:
  """A registered metric: ``fn(inputs, alpha) -> (row, {item: percent})``."""
  title: str
  default: float
  default_text: str
  needs: tuple[str, ...]
  fn: Callable[[EvalInputs, float], tuple[dict, dict]]
  help: str


def _per_item(names, values) -> dict:
  return {n: float(v) for n, v in zip(names, values)}


def _pck_with(inp: EvalInputs, alpha: float, norm, valid=None) -> tuple[dict, dict]:
  correct, counted = correct_mask(inp.pred, inp.gt, inp.valid if valid is None else valid,
                                  norm, alpha)
  per_joint = pck_per_joint(correct, counted)
  return (joint_table(per_joint, correct, counted, inp.skeleton),
          _per_item(inp.skeleton.joints, per_joint))


def _torso(inp: EvalInputs) -> np.ndarray:
  if inp.skeleton.torso is None:
    raise ValueError(f"skeleton {inp.skeleton.name!r} has no torso pair for PCK")
  return torso_norm(inp.gt, inp.valid, inp.skeleton.torso)


def _height(h, n: int, what: str) -> np.ndarray:
  h = np.asarray(h, np.float64)
  if h.ndim == 0:
    return np.full(n, float(h))
  if h.size != n:
    raise ValueError(f"{what} must be a scalar or (N,) = ({n},), got shape {h.shape}")
  return h.reshape(n)


def _pckh(inp, alpha):
  return _pck_with(inp, alpha, inp.norm)


def _pck(inp, alpha):
  return _pck_with(inp, alpha, _torso(inp))


def _pck_height(inp, alpha):
  return _pck_with(inp, alpha, _height(inp.crop_height, len(inp.gt), "crop_height"))


def _pck_image(inp, alpha):
  return _pck_with(inp, alpha, _height(inp.image_height, len(inp.gt), "image_height"))


def _occluded(inp: EvalInputs) -> np.ndarray:
  return (np.asarray(inp.valid) > 0) & (np.asarray(inp.visible) == 0)


def _pckh_occluded(inp, alpha):
  return _pck_with(inp, alpha, inp.norm, valid=_occluded(inp))


def _hard10(inp, alpha):
  return _hard10_with(inp, alpha, inp.norm)


def _hard10_pck(inp, alpha):
  return _hard10_with(inp, alpha, _torso(inp))


def _hard10_with(inp, alpha, norm):
  groups = dict(inp.skeleton.groups)
  missing = [g for g in HARD_GROUPS if g not in groups]
  if missing:
    raise ValueError(f"hard10 needs the columns {HARD_GROUPS}; skeleton "
                     f"{inp.skeleton.name!r} lacks {missing}")
  hard = [j for g in HARD_GROUPS for j in groups[g]]
  valid = np.asarray(inp.valid) > 0
  subsets = {"Invisible": None, "Visible": None, "Overall": valid}
  if inp.visible is not None:
    subsets["Invisible"] = _occluded(inp)
    subsets["Visible"] = valid & (np.asarray(inp.visible) > 0)
  row, per_joint = {}, {}
  for name, mask in subsets.items():
    if mask is None:
      row[name] = float("nan")
      continue
    per_joint[name] = pck_per_joint(*correct_mask(inp.pred, inp.gt, mask, norm, alpha))
    row[name] = _nanmean([_nanmean(per_joint[name][list(groups[g])]) for g in HARD_GROUPS])
  return row, _per_item([inp.skeleton.joints[j] for j in hard], per_joint["Overall"][hard])


def _pcp(inp, alpha):
  parts = inp.skeleton.parts
  correct, counted = pcp_mask(inp.pred, inp.gt, inp.valid, parts, alpha)
  row, per_part = part_table(correct, counted, parts)
  return row, _per_item([p[0] for p in parts], per_part)


def _auc_with(inp: EvalInputs, max_alpha: float, norm) -> tuple[dict, dict]:
  alphas = auc_alphas(max_alpha)
  correct, counted = pck_curve(inp.pred, inp.gt, inp.valid, norm, alphas)
  pooled = grouped_joints(inp.skeleton)
  total = [_ratio(c[:, pooled], counted[:, pooled]) for c in correct]
  per_joint = np.stack([pck_per_joint(c, counted) for c in correct])  # (A, K)
  return ({"Total": area_under_curve(alphas, total)},
          _per_item(inp.skeleton.joints,
                    [area_under_curve(alphas, per_joint[:, k]) for k in range(per_joint.shape[1])]))


def _auc(inp, max_alpha):
  return _auc_with(inp, max_alpha, inp.norm)


def _pck_auc(inp, max_alpha):
  return _auc_with(inp, max_alpha, _torso(inp))


def _flic(inp, r):
  norm = torso_norm(inp.gt, inp.valid, flic_torso(inp.skeleton)) / 100.0
  return _pck_with(inp, r, norm)


METRICS: dict[str, MetricSpec] = {
    "pckh": MetricSpec("PCKh", 0.5, "0.5", ("norm",), _pckh,
                       "PCKh@α, head normaliser (official MPII)"),
    "pck": MetricSpec("PCK", 0.2, "0.2", (), _pck, "PCK@α, torso normaliser (LSP, FLIC)"),
    "pck_height": MetricSpec("PCK-height", 1 / 12, "1/12", ("crop_height",), _pck_height,
                             "PCK@α of the crop height (Chen §3.5: 1/12)"),
    "pck_image": MetricSpec("PCK-image", 1 / 12, "1/12", ("image_height",), _pck_image,
                            "PCK@α of the original image height"),
    "pckh_occluded": MetricSpec("PCKh-occluded", 0.5, "0.5", ("norm", "visible"),
                                _pckh_occluded, "PCKh on invisible joints (Tang & Wu Tab. 3)"),
    "hard10": MetricSpec("Hard10", 0.5, "0.5", ("norm",), _hard10,
                         "mean PCKh of the ten hard joints (Tang & Wu §4.3, Tab. 6-7)"),
    "hard10_pck": MetricSpec("Hard10-PCK", 0.2, "0.2", (), _hard10_pck,
                             "the same mean with the torso PCK (LSP: no head boxes)"),
    "pcp": MetricSpec("PCP", 0.5, "0.5", (), _pcp, "strict PCP, Li et al. eq. (6)"),
    "auc": MetricSpec("AUC", 0.5, "0.5", ("norm",), _auc,
                      "area under the PCKh Total curve 0..α_max (official MPII)"),
    "pck_auc": MetricSpec("PCK-AUC", 0.2, "0.2", (), _pck_auc,
                          "area under the torso-PCK Total curve 0..α_max"),
    "flic": MetricSpec("FLIC-acc", 20.0, "20", (), _flic,
                       "Li et al. eq. (7) accuracy at r (torso = 100 px)"),
}


def known_metrics() -> str:
  return "; ".join(f"{k}@α (default {s.default_text}: {s.help})" for k, s in METRICS.items())


def parse(name: str) -> tuple[str, float, str]:
  """``"pckh@0.5"`` → ("pckh", 0.5, title "PCKh@0.5"). Raises ValueError listing the names."""
  m = re.fullmatch(r"([a-z][a-z0-9_]*)(?:@([0-9.]+(?:/[0-9.]+)?))?", str(name).strip().lower())
  if not m or m.group(1) not in METRICS:
    raise ValueError(f"unknown metric {name!r}; known: {known_metrics()}")
  key, text = m.group(1), m.group(2)
  spec = METRICS[key]
  if text is None:
    alpha, text = spec.default, spec.default_text
  else:
    try:
      if "/" in text:
        num, den = text.split("/")
        alpha = float(num) / float(den)
      else:
        alpha = float(text)
        text = f"{alpha:g}"
    except (ValueError, ZeroDivisionError):
      raise ValueError(f"metric {name!r}: cannot read the threshold {text!r}") from None
  if not (np.isfinite(alpha) and alpha >= 0):
    raise ValueError(f"metric {name!r}: threshold must be a finite number >= 0")
  if key == "auc" and abs(alpha - spec.default) < 1e-12:
    return key, alpha, spec.title
  return key, alpha, f"{spec.title}@{text}"


def compute_metrics(names, pred, gt, valid, norm, skeleton: skel.Skeleton, *,
                    visible=None, crop_height=None, image_height=None) -> dict:
  """Evaluates the named metrics (see the module docstring).

  Args:
    names: metric names, e.g. ``["pckh@0.5", "pckh@0.1", "auc", "pcp@0.5"]``.
    pred, gt: (N, K, 2) image pixels; valid: (N, K) annotated; norm: (N,) PCKh
      normaliser (may be None when no metric needs it).
    skeleton: the joint set (columns, parts, torso).
    visible: (N, K) 1 = not occluded (for the occlusion metrics).
    crop_height, image_height: (N,) or scalar heights in image pixels.

  Returns:
    {"metrics": {title: {column: percent}}, "per_joint": {title: {joint/part: percent}}}.
  """
  inp = EvalInputs(pred=np.asarray(pred, np.float64), gt=np.asarray(gt, np.float64),
                   valid=np.asarray(valid), norm=None if norm is None else np.asarray(norm),
                   skeleton=skeleton, visible=None if visible is None else np.asarray(visible),
                   crop_height=crop_height, image_height=image_height)
  if inp.gt.ndim != 3 or inp.gt.shape[1] != skeleton.num_joints:
    raise ValueError(f"gt must be (N, {skeleton.num_joints}, 2) for skeleton "
                     f"{skeleton.name!r}, got {inp.gt.shape}")
  if inp.visible is not None and inp.visible.shape != inp.gt.shape[:2]:
    raise ValueError(f"visible must be (N, K) = {inp.gt.shape[:2]}, got {inp.visible.shape}")
  results, per_joint = {}, {}
  for name in names:
    key, alpha, title = parse(name)
    spec = METRICS[key]
    for need in spec.needs:
      if getattr(inp, need) is None:
        raise ValueError(f"metric {name!r} needs {need!r}, which was not given")
    row, items = spec.fn(inp, alpha)
    results[title] = row
    per_joint[title] = items
  return {"metrics": results, "per_joint": per_joint}
