"""The metric registry: names, thresholds, and ``compute_metrics``, which fills the tables.

``compute_metrics(["pckh@0.5", "pckh@0.1", "auc", "pck@0.2", "pcp@0.5", ...], ...)``
returns ``{"metrics": {TITLE: {column: percent}}, "per_joint": {TITLE: {joint or part:
percent}}}``; the rows are laid out by ``jaxpose.evaluation.tables``. ``known()`` lists the
names, ``requirements(name)`` the optional inputs a metric reads, ``parse(name)`` checks one.
The metric names (case-insensitive; ``@α`` may be omitted for the default, and α may be
written as a fraction, e.g. ``pck_height@1/12``):

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
visibility@t (0.5)  Visibility-acc       joint-visibility classification accuracy (Chen §2.2 eq. (5),
                    (or …@t)             §3.5 Table 2): presence predicted where ``visibility`` > t,
                                         compared with ``visible``; every joint counted (see
                                         ``_visibility``); needs ``visibility`` and ``visible``
detection@t (0.5)   Detection            HMLPE's part detectors (Li et al. §3.2, Table 3 "error (P)"):
                    (or …@t)             Error = mean cross-entropy (eq. 3) per classifier C_{p,l},
                                         Accuracy (%) = labels matched at probability > t; per part
                                         accuracy; needs ``parts`` and ``part_windows``
reg_error           Regression-error     Li et al. Table 3 "error (R)": eq. (1) summed over the
                                         joints of an image, coordinates divided by the crop side,
                                         averaged over images; needs ``crop_height``
==================  ===================  ==========================================================
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Callable, Mapping, Optional

import numpy as np

from jaxpose import skeleton as skel
from jaxpose.evaluation.curves import flic_torso
from jaxpose.evaluation.pck import (area_under_curve, auc_alphas, correct_mask, pck_curve,
                                    pck_per_joint, torso_norm)
from jaxpose.evaluation.pcp import pcp_mask
from jaxpose.evaluation.tables import (accuracy_table, grouped_joints, joint_table, nanmean,
                                       part_table, pooled_percent)

HARD_GROUPS = ("Elbow", "Wrist", "Hip", "Knee", "Ankle")

# The optional inputs of ``compute_metrics`` the library's metrics may need (``requirements``
# returns a subset); a registered metric may also need any key of a family's prediction or of
# the evaluation batches (``EvalInputs.extra``).
INPUTS = ("norm", "visible", "crop_height", "image_height", "visibility", "parts",
          "part_windows")
# The ground truth of an evaluation: what the data gives, not the model (``config_check`` asks
# the family for every other input a metric needs).
GROUND_TRUTH = ("norm", "visible", "crop_height", "image_height")


@dataclasses.dataclass(frozen=True)
class EvalInputs:
  """Everything a metric may read. Coordinates in image pixels, 0-based; prediction keys as a
  family's ``decode`` names them (``keypoints``, ``visibility``, ``parts``, …)."""
  keypoints: np.ndarray                     # (N, K, 2) predicted
  gt: np.ndarray                            # (N, K, 2)
  valid: np.ndarray                         # (N, K) annotated
  norm: Optional[np.ndarray]                # (N,) PCKh normaliser (0.6 × head-box diagonal)
  skeleton: skel.Skeleton
  visible: Optional[np.ndarray] = None      # (N, K) not occluded / present
  crop_height: Optional[np.ndarray] = None  # (N,) network input height in image pixels
  image_height: Optional[np.ndarray] = None  # (N,) original image height
  visibility: Optional[np.ndarray] = None   # (N, K) predicted presence probability in [0, 1]
  parts: Optional[np.ndarray] = None        # (N, P, L) part-detection probabilities (HMLPE)
  part_windows: Optional[np.ndarray] = None  # (N, P, L) 0/1 window labels of eq. (2)
  extra: Mapping = dataclasses.field(default_factory=dict)  # any other prediction / batch key

  def get(self, name: str):
    """Input ``name``: a field, else a key of ``extra``; None when absent."""
    if name in _FIELDS:
      return getattr(self, name)
    return self.extra.get(name)


@dataclasses.dataclass(frozen=True)
class MetricSpec:
  """A registered metric: ``fn(inputs, alpha) -> (row, {item: percent})``.

  ``bare_default``: the title drops ``@α`` at the default threshold (``AUC``, ``Visibility-acc``);
  ``max_threshold``: the largest threshold that means something (a probability for visibility).
  """
  title: str
  default: float
  default_text: str
  needs: tuple[str, ...]
  fn: Callable[[EvalInputs, float], tuple[dict, dict]]
  help: str
  bare_default: bool = False
  max_threshold: float = math.inf


def _per_item(names, values) -> dict:
  return {n: float(v) for n, v in zip(names, values)}


def _pck_with(inp: EvalInputs, alpha: float, norm, valid=None) -> tuple[dict, dict]:
  correct, counted = correct_mask(inp.keypoints, inp.gt, inp.valid if valid is None else valid,
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
    per_joint[name] = pck_per_joint(*correct_mask(inp.keypoints, inp.gt, mask, norm, alpha))
    row[name] = nanmean([nanmean(per_joint[name][list(groups[g])]) for g in HARD_GROUPS])
  return row, _per_item([inp.skeleton.joints[j] for j in hard], per_joint["Overall"][hard])


def _pcp(inp, alpha):
  parts = inp.skeleton.parts
  correct, counted = pcp_mask(inp.keypoints, inp.gt, inp.valid, parts, alpha)
  row, per_part = part_table(correct, counted, parts)
  return row, _per_item([p[0] for p in parts], per_part)


def _auc_with(inp: EvalInputs, max_alpha: float, norm) -> tuple[dict, dict]:
  alphas = auc_alphas(max_alpha)
  correct, counted = pck_curve(inp.keypoints, inp.gt, inp.valid, norm, alphas)
  pooled = grouped_joints(inp.skeleton)
  total = [pooled_percent(c[:, pooled], counted[:, pooled]) for c in correct]
  per_joint = np.stack([pck_per_joint(c, counted) for c in correct])  # (A, K)
  return ({"Total": area_under_curve(alphas, total)},
          _per_item(inp.skeleton.joints,
                    [area_under_curve(alphas, per_joint[:, k]) for k in range(per_joint.shape[1])]))


def _auc(inp, max_alpha):
  return _auc_with(inp, max_alpha, inp.norm)


def _pck_auc(inp, max_alpha):
  return _auc_with(inp, max_alpha, _torso(inp))


def _flic(inp, r):
  """Eq. (7) at one r. A skeleton without the torso's hips (the upper-body view of FLIC) is
  normalised by the records' ``norm``, the torso length its reader carries over."""
  try:
    norm = torso_norm(inp.gt, inp.valid, flic_torso(inp.skeleton)) / 100.0
  except ValueError:
    if inp.norm is None:
      raise ValueError(f"metric flic: skeleton {inp.skeleton.name!r} has no shoulder–hip torso "
                       "and no norm (torso length) was given") from None
    norm = np.asarray(inp.norm, np.float64) / 100.0
  return _pck_with(inp, r, norm)


def _visibility(inp, threshold):
  """Joint-visibility classification accuracy (Chen, UCSD course report, §2.2 eq. (5) and §3.5,
  Table 2: "the accuracy is simply computing the percentage of matching with the ground-truth").

  A joint is predicted present where ``visibility > threshold`` (strictly, as Keras'
  ``binary_accuracy``: a probability of exactly 0.5 — a logit of 0 — is "absent") and the label
  is ``visible > 0``. **Every joint of every person is counted, whatever ``valid`` says.** The
  report's label ω_i (eq. (2)) is defined for all k joints and eq. (5) sums over all of them:
  ω_i = −1 marks a joint that is not in the image, which the classifier must recognise too. In
  this library such joints are ``valid == 0`` — on LSPET, the report's data, ``valid = visible =``
  the file's flag (``data/sources/lsp.py``), and on MPII and the synthetic set ``visible`` is 0
  wherever ``valid`` is — so masking with ``valid`` would drop every negative and leave only the
  rate at which present joints are called present. What ``visible`` means is the dataset's
  (presence on LSPET, not occluded on LSP and MPII); the metric scores against it as given.

  Row: the skeleton's columns (mean of their joints' accuracies), ``Total`` pooled over all K
  joints (MPII's pelvis and thorax included); per joint: every joint's accuracy.
  """
  truth = np.asarray(inp.visible) > 0
  correct = (inp.visibility > threshold) == truth
  row, per_joint = accuracy_table(correct, np.ones_like(correct), inp.skeleton)
  return row, _per_item(inp.skeleton.joints, per_joint)


def _detection(inp, threshold):
  """HMLPE's P·L part detectors (Li et al. §3.2): Error = the mean cross-entropy of eq. (3) per
  classifier — Table 3's "error (P)", whose 0.693 = ln 2 is a classifier at probability 1/2 —
  and Accuracy = the percentage of classifiers whose ``parts > threshold`` equals the label.
  Parts with an unannotated end have no label (eq. 2 needs the stick) and are not counted. Per
  part: the accuracy over its L windows."""
  p = np.clip(np.asarray(inp.parts, np.float64), 1e-7, 1 - 1e-7)
  y = np.asarray(inp.part_windows, np.float64)
  if p.shape != y.shape or p.ndim != 3 or p.shape[1] != len(inp.skeleton.parts):
    raise ValueError(f"parts {p.shape} and part_windows {y.shape} must both be (N, P, L) "
                     f"with P = {len(inp.skeleton.parts)} parts of {inp.skeleton.name!r}")
  ends = np.asarray([(a, b) for _, a, b in inp.skeleton.parts], np.int64)
  counted = (inp.valid[:, ends[:, 0]] * inp.valid[:, ends[:, 1]] > 0)[..., None]  # (N, P, 1)
  counted = np.broadcast_to(counted, p.shape)
  ce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
  correct = (p > threshold) == (y > 0.5)
  n = counted.sum()
  row = {"Error": float(ce[counted].mean()) if n else math.nan,
         "Accuracy": 100.0 * float(correct[counted].mean()) if n else math.nan}
  per_part = [100.0 * float(correct[:, i][counted[:, i]].mean()) if counted[:, i].any()
              else math.nan for i in range(p.shape[1])]
  return row, _per_item([name for name, _, _ in inp.skeleton.parts], per_part)


def _reg_error(inp, _):
  """Li et al. Table 3's regression error: eq. (1), ‖Ĵ_i − J_i‖² with coordinates divided by
  the box side (the crop height; §3.1 normalises by the box), summed over an image's annotated
  joints and averaged over images. Per joint: its mean squared normalised distance."""
  side = _height(inp.crop_height, len(inp.gt), "crop_height")[:, None]
  d2 = np.sum(np.square((inp.keypoints - inp.gt) / side[..., None]), axis=-1)  # (N, K)
  counted = inp.valid > 0
  d2 = np.where(counted, d2, 0.0)  # a NaN prediction of an unannotated joint counts nothing
  row = {"Error": float(np.mean(np.sum(d2, axis=-1)))}
  per_joint = [float(d2[counted[:, k], k].mean()) if counted[:, k].any() else math.nan
               for k in range(d2.shape[1])]
  return row, _per_item(inp.skeleton.joints, per_joint)


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
                      "area under the PCKh Total curve 0..α_max (official MPII)",
                      bare_default=True),
    "pck_auc": MetricSpec("PCK-AUC", 0.2, "0.2", (), _pck_auc,
                          "area under the torso-PCK Total curve 0..α_max"),
    "flic": MetricSpec("FLIC-acc", 20.0, "20", (), _flic,
                       "Li et al. eq. (7) accuracy at r (torso = 100 px)"),
    "visibility": MetricSpec("Visibility-acc", 0.5, "0.5", ("visibility", "visible"),
                             _visibility, "joint-visibility accuracy at probability α "
                             "(Chen §3.5, Table 2)", bare_default=True, max_threshold=1.0),
    "detection": MetricSpec("Detection", 0.5, "0.5", ("parts", "part_windows"), _detection,
                            "HMLPE part detectors: cross-entropy and accuracy at probability α "
                            "(Li et al. §3.2, Table 3)", bare_default=True, max_threshold=1.0),
    "reg_error": MetricSpec("Regression-error", 0.0, "0", ("crop_height",), _reg_error,
                            "Li et al. Table 3 error (R): eq. (1) per image, box-normalised",
                            bare_default=True, max_threshold=0.0),
}

# Why an input is missing, in the words a user can act on.
_MISSING = {
    "visibility": "the model does not predict visibility (no visibility: joint presence "
                  "probabilities, e.g. the sigmoid of a visibility_logits output)",
    "visible": "the ground truth has no visibility labels (visible)",
    "parts": "the model has no part detectors (no parts: HMLPE's part_logits)",
    "part_windows": "the evaluation batches carry no part-window labels (the family's "
                    "eval_inputs build them for HMLPE)",
}


_FIELDS = frozenset(f.name for f in dataclasses.fields(EvalInputs))


def register(name: str, spec: MetricSpec) -> None:
  """Adds metric ``name`` (lower case, as ``parse`` reads it) to the registry: a family from
  outside the package scores the keys its ``decode`` adds with a metric of its own, whose
  ``spec.needs`` names them (they reach ``spec.fn`` through ``EvalInputs.get``). Names in use
  cannot be replaced."""
  if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
    raise ValueError(f"metric name {name!r}: lower-case letters, digits and _ only")
  if name in METRICS:
    raise ValueError(f"metric {name!r} is already registered")
  METRICS[name] = spec


def known() -> tuple[str, ...]:
  """The metric names ``parse`` accepts (each may carry ``@threshold``), in registry order."""
  return tuple(METRICS)


def _describe() -> str:
  return "; ".join(f"{k}@α (default {s.default_text}: {s.help})" for k, s in METRICS.items())


def parse(name: str) -> tuple[str, float, str]:
  """``"pckh@0.5"`` → ("pckh", 0.5, title "PCKh@0.5"). Raises ValueError listing the names."""
  m = re.fullmatch(r"([a-z][a-z0-9_]*)(?:@([0-9.]+(?:/[0-9.]+)?))?", str(name).strip().lower())
  if not m or m.group(1) not in METRICS:
    raise ValueError(f"unknown metric {name!r}; known: {_describe()}")
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
  if alpha > spec.max_threshold:
    raise ValueError(f"metric {name!r}: threshold must be <= {spec.max_threshold:g}")
  if spec.bare_default and abs(alpha - spec.default) < 1e-12:
    return key, alpha, spec.title
  return key, alpha, f"{spec.title}@{text}"


def requirements(name: str) -> frozenset[str]:
  """The optional inputs of ``compute_metrics`` that metric ``name`` cannot do without, a subset
  of ``INPUTS`` (``"norm"``, ``"visible"``, ``"crop_height"``, ``"image_height"``,
  ``"visibility"``, …; a registered metric's own keys); ``keypoints``, ``gt``, ``valid`` and
  the skeleton are always needed.
  ``requirements("visibility") == {"visibility", "visible"}``. Raises like ``parse``."""
  return frozenset(METRICS[parse(name)[0]].needs)


def _probabilities(p, shape) -> np.ndarray:
  p = np.asarray(p, np.float64)
  if p.shape != shape:
    raise ValueError(f"visibility must be (N, K) = {shape}, got {p.shape}")
  if not np.all((p >= 0) & (p <= 1)):  # NaN fails too
    raise ValueError("visibility must hold probabilities in [0, 1] (apply a sigmoid to "
                     f"visibility logits); got values in [{np.nanmin(p)}, {np.nanmax(p)}]"
                     + (" and NaN" if np.isnan(p).any() else ""))
  return p


def compute_metrics(names, keypoints, gt, valid, norm, skeleton: skel.Skeleton, *,
                    visible=None, crop_height=None, image_height=None,
                    visibility=None, parts=None, part_windows=None, **extra) -> dict:
  """Evaluates the named metrics (see the module docstring).

  Args:
    names: metric names, e.g. ``["pckh@0.5", "pckh@0.1", "auc", "pcp@0.5"]``.
    keypoints, gt: (N, K, 2) image pixels, predicted and true; valid: (N, K) annotated;
      norm: (N,) PCKh normaliser (may be None when no metric needs it).
    skeleton: the joint set (columns, parts, torso).
    visible: (N, K) 1 = not occluded / present (the occlusion metrics, and the label of
      ``visibility``).
    crop_height, image_height: (N,) or scalar heights in image pixels.
    visibility: (N, K) predicted probability in [0, 1] that each joint is present (Chen §2.2
      ω̂); only ``visibility`` reads it.
    parts, part_windows: (N, P, L) part-detection probabilities and window labels (Li et
      al. §3.2); only ``detection`` reads them.
    **extra: any other arrays (a family's own prediction keys, evaluation-batch keys), for
      registered metrics that need them (``register``).

  Returns:
    {"metrics": {title: {column: percent}}, "per_joint": {title: {joint/part: percent}}}.
  """
  inp = EvalInputs(keypoints=np.asarray(keypoints, np.float64), gt=np.asarray(gt, np.float64),
                   valid=np.asarray(valid), norm=None if norm is None else np.asarray(norm),
                   skeleton=skeleton, visible=None if visible is None else np.asarray(visible),
                   crop_height=crop_height, image_height=image_height,
                   parts=None if parts is None else np.asarray(parts),
                   part_windows=None if part_windows is None else np.asarray(part_windows),
                   extra=extra)
  if inp.gt.ndim != 3 or inp.gt.shape[1] != skeleton.num_joints:
    raise ValueError(f"gt must be (N, {skeleton.num_joints}, 2) for skeleton "
                     f"{skeleton.name!r}, got {inp.gt.shape}")
  if inp.visible is not None and inp.visible.shape != inp.gt.shape[:2]:
    raise ValueError(f"visible must be (N, K) = {inp.gt.shape[:2]}, got {inp.visible.shape}")
  if visibility is not None:
    inp = dataclasses.replace(inp, visibility=_probabilities(visibility, inp.gt.shape[:2]))
  results, per_joint = {}, {}
  for name in names:
    key, alpha, title = parse(name)
    spec = METRICS[key]
    for need in spec.needs:
      if inp.get(need) is None:
        why = _MISSING.get(need, f"{need!r} was not given")
        raise ValueError(f"metric {name!r} needs {need!r}: {why}")
    row, items = spec.fn(inp, alpha)
    results[title] = row
    per_joint[title] = items
  return {"metrics": results, "per_joint": per_joint}
