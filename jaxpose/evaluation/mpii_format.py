"""Scoring an official MPII predictions file: the one path from such a file to the metrics.

``evaluate_files`` is what ``evaluate.py --predictions`` runs, against an official
``gt_valid.mat`` or against a split's annotations (a ``GtValid`` built by the caller from
``sources.read_split``: this package may not import ``jaxpose.data``).

The file layouts themselves (``preds`` .mat/.h5, ``gt_valid.mat``, ``GtValid``, ``SC_BIAS``,
``FormatError``, the readers and writers) are defined once, in ``jaxpose.formats.mpii``,
because the MPII reader needs them too; import them from there.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from jaxpose import skeleton as skel
from jaxpose.evaluation.metrics import compute_metrics
from jaxpose.formats.mpii import FormatError, GtValid, read_gt_valid, read_predictions

__all__ = ["DEFAULT_METRICS", "evaluate_files"]

# What the official MPII toolkit reports.
DEFAULT_METRICS = ("pckh@0.5", "pckh@0.1", "auc")


def evaluate_files(pred_path: str, gt: Union[str, GtValid],
                   metrics: Sequence[str] = DEFAULT_METRICS,
                   visible: Optional[np.ndarray] = None, *,
                   skeleton: skel.Skeleton = skel.MPII, source: Optional[str] = None) -> dict:
  """The official MPII evaluation of a predictions file.

  Args:
    pred_path: an official predictions file (``preds``, .mat or .h5).
    gt: the path of an official ``gt_valid.mat``, or a ``GtValid`` (e.g.
      ``GtValid.from_records`` of a split's records, in the predictions' order).
    metrics: metric names of ``tables.compute_metrics``.
    visible: (N, K) visibility flags for the occlusion metrics (default ``gt.visible``;
      ``gt_valid.mat`` has none).
    skeleton: the joint set of the ground truth.
    source: the ground truth's name in error messages (default: its path).

  Returns:
    ``compute_metrics``' result plus ``num_examples``.

  Raises:
    FormatError: a file not in the official layout, or predictions whose number of people
      or joints differs from the ground truth's.
  """
  preds = read_predictions(pred_path)
  if isinstance(gt, GtValid):
    truth, source = gt, source or "the ground truth"
  else:
    truth, source = read_gt_valid(gt), source or gt
  if preds.shape[1] != truth.gt.shape[1] or truth.gt.shape[1] != skeleton.num_joints:
    raise FormatError(f"{pred_path}: {preds.shape[1]} joints per person, {source} has "
                      f"{truth.gt.shape[1]} ({skeleton.name} skeleton: {skeleton.num_joints})")
  if len(preds) != len(truth.gt):
    raise FormatError(f"{pred_path}: {len(preds)} predictions, but {source} has "
                      f"{len(truth.gt)} people")
  out = compute_metrics(list(metrics), preds, truth.gt, truth.valid, truth.norm, skeleton,
                        visible=truth.visible if visible is None else visible)
  out["num_examples"] = int(len(preds))
  return out
