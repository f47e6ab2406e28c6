"""The official MPII evaluation files — the one place their 1-based ↔ 0-based conversion happens.

Both bottom layers read these files: the MPII reader (``jaxpose.data.sources.mpii``) takes
head boxes and the PCKh normaliser from ``gt_valid.mat``, and the evaluation package
(``jaxpose.evaluation.mpii_format``) scores predictions files against it. Data and
evaluation must not import each other, so the layouts live here, below both, with one
``GtValid`` and one ``SC_BIAS``; this module imports only numpy, scipy, h5py and
``jaxpose.formats.errors``.

* Predictions (what ``eval_PCKh.m`` / ``eval_PCKh.py`` / HRNet load): ``preds``, N × 16 × 2,
  1-based MATLAB pixels, MPII joint-id order (= ``skeleton.MPII``), in a ``.mat``
  (``scipy.io.savemat``) or an ``.h5`` (h5py dataset ``preds``).
* Ground truth ``gt_valid.mat`` (``detections_our_format.mat`` has the same fields):
  ``pos_gt_src`` 16 × 2 × N [joint, (x, y), person] — the official code subtracts
  ``transpose(preds, [1, 2, 0])`` from it and takes the norm over axis 1 — ``jnt_missing``
  16 × N (1 = unannotated), ``headboxes_src`` 2 × 2 × N [corner, (x, y), person], and
  ``dataset_joints`` (names). All 1-based. A 2 × 16 × N ``pos_gt_src`` is accepted too.

The PCKh normaliser read from it is SC_BIAS 0.6 × the head-box diagonal
(``util_get_head_size.m``), the ``norm`` of every MPII record.

The stacked-hourglass ``valid.h5`` is not here: it is an annotation file (centres, scales,
visibility flags) that only the MPII reader reads, not an official evaluation file.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Optional, Sequence

import numpy as np

from jaxpose.formats.errors import FormatError

__all__ = ["FormatError", "GtValid", "NUM_JOINTS", "OFFICIAL_JOINT_NAMES", "SC_BIAS",
           "read_gt_valid", "read_predictions", "write_gt_valid", "write_predictions"]

SC_BIAS = 0.6  # official PCKh: threshold unit = 0.6 × head-box diagonal
NUM_JOINTS = 16
# ``dataset_joints`` of the official files, MPII joint-id order.
OFFICIAL_JOINT_NAMES = ("rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thrx",
                        "neck", "head", "rwri", "relb", "rsho", "lsho", "lelb", "lwri")


@dataclasses.dataclass(frozen=True)
class GtValid:
  """MPII ground truth in jaxpose conventions (0-based pixels, person axis first).

  What ``gt_valid.mat`` holds (``read_gt_valid``), or the same arrays assembled from
  annotation records (``from_records``): scoring a predictions file needs one of the two,
  and one type lets one function score against either.
  """
  gt: np.ndarray          # (N, 16, 2)
  valid: np.ndarray       # (N, 16) 1 = annotated (1 − jnt_missing)
  norm: np.ndarray        # (N,) 0.6 × head-box diagonal
  headboxes: np.ndarray   # (N, 2, 2) [corner, (x, y)]
  visible: Optional[np.ndarray] = None  # (N, 16) where known; gt_valid.mat has no flags

  @property
  def head_box(self) -> np.ndarray:
    """(N, 4) x1, y1, x2, y2: the head boxes in ``PoseRecord.head_box``'s layout."""
    return self.headboxes.reshape(len(self.norm), 4).astype(np.float32)

  @classmethod
  def from_records(cls, records) -> "GtValid":
    """The ground truth of annotation records (anything with ``joints`` (K, 3), ``valid``,
    ``visible``, ``norm`` and ``head_box``, e.g. ``PoseRecord``s), in their order."""
    records = list(records)
    if not records:
      raise FormatError("no records to take the ground truth from")
    return cls(gt=np.stack([np.asarray(r.joints)[:, :2] for r in records]).astype(np.float64),
               valid=np.stack([r.valid for r in records]).astype(np.float32),
               norm=np.array([r.norm for r in records], np.float64),
               headboxes=np.stack([np.asarray(r.head_box, np.float64).reshape(2, 2)
                                   for r in records]),
               visible=np.stack([r.visible for r in records]).astype(np.float32))


def _kind(path: str) -> str:
  ext = os.path.splitext(path)[1].lower()
  if ext == ".mat":
    return "mat"
  if ext in (".h5", ".hdf5"):
    return "h5"
  raise FormatError(f"{path}: unknown prediction file type {ext!r}; use .mat or .h5")


def _require(path: str) -> None:
  if not os.path.isfile(path):
    raise FormatError(f"{path}: file not found")


def write_predictions(path: str, preds: np.ndarray) -> str:
  """Writes (N, 16, 2) 0-based predictions as the official 1-based ``preds``."""
  preds = np.asarray(preds, np.float64)
  if preds.ndim != 3 or preds.shape[1:] != (NUM_JOINTS, 2):
    raise ValueError(f"preds must be (N, {NUM_JOINTS}, 2), got {preds.shape}")
  out = preds + 1.0
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  if _kind(path) == "mat":
    import scipy.io
    scipy.io.savemat(path, {"preds": out})
  else:
    import h5py
    with h5py.File(path, "w") as f:
      f.create_dataset("preds", data=out)
  return path


def read_predictions(path: str) -> np.ndarray:
  """(N, 16, 2) 0-based predictions from an official ``preds`` file (.mat or .h5)."""
  kind = _kind(path)
  _require(path)
  preds = None
  if kind == "mat":
    import scipy.io
    try:
      mat = scipy.io.loadmat(path)
    except NotImplementedError:  # MATLAB v7.3 files are HDF5
      kind = "h5"
    else:
      if "preds" not in mat:
        raise FormatError(f"{path}: no field 'preds' (has {sorted(k for k in mat if not k.startswith('__'))})")
      preds = np.asarray(mat["preds"], np.float64)
  if kind == "h5":
    import h5py
    with h5py.File(path, "r") as f:
      if "preds" not in f:
        raise FormatError(f"{path}: no dataset 'preds' (has {sorted(f.keys())})")
      preds = np.asarray(f["preds"][()], np.float64)
    if preds.ndim == 3 and preds.shape[:2] == (2, NUM_JOINTS):  # MATLAB v7.3 stores it transposed
      preds = preds.transpose(2, 1, 0)
  if preds.ndim != 3 or preds.shape[1:] != (NUM_JOINTS, 2):
    raise FormatError(f"{path}: field 'preds' must be N x {NUM_JOINTS} x 2, got {preds.shape}")
  return preds - 1.0


def read_gt_valid(path: str) -> GtValid:
  """Reads an official ``gt_valid.mat`` (or ``detections_our_format.mat``)."""
  import scipy.io
  _require(path)
  try:
    mat = scipy.io.loadmat(path)
  except Exception as e:  # scipy raises many types for corrupt files
    raise FormatError(f"{path}: not a readable MATLAB file ({type(e).__name__}: {e})") from None
  for key in ("pos_gt_src", "jnt_missing", "headboxes_src"):
    if key not in mat:
      raise FormatError(f"{path}: no field {key!r}")
  pos = np.asarray(mat["pos_gt_src"], np.float64)
  missing = np.asarray(mat["jnt_missing"])
  boxes = np.asarray(mat["headboxes_src"], np.float64)
  if pos.ndim != 3:
    raise FormatError(f"{path}: field 'pos_gt_src' must be 16 x 2 x N, got {pos.shape}")
  n = pos.shape[2]
  if pos.shape[:2] == (NUM_JOINTS, 2):
    gt = pos.transpose(2, 0, 1)
  elif pos.shape[:2] == (2, NUM_JOINTS):
    gt = pos.transpose(2, 1, 0)
  else:
    raise FormatError(f"{path}: field 'pos_gt_src' must be 16 x 2 x N, got {pos.shape}")
  if missing.shape != (NUM_JOINTS, n):
    raise FormatError(f"{path}: field 'jnt_missing' must be {NUM_JOINTS} x {n}, got {missing.shape}")
  if boxes.shape != (2, 2, n):
    raise FormatError(f"{path}: field 'headboxes_src' must be 2 x 2 x {n}, got {boxes.shape}")
  headboxes = boxes.transpose(2, 0, 1) - 1.0
  norm = SC_BIAS * np.linalg.norm(headboxes[:, 1] - headboxes[:, 0], axis=-1)
  return GtValid(gt=gt - 1.0, valid=(missing.T == 0).astype(np.float32), norm=norm,
                 headboxes=headboxes)


def write_gt_valid(path: str, gt: np.ndarray, valid: np.ndarray, headboxes: np.ndarray,
                   joint_names: Sequence[str] = OFFICIAL_JOINT_NAMES) -> str:
  """Writes 0-based (N, 16, 2) ground truth, (N, 16) valid and (N, 2, 2) head boxes in
  the official ``gt_valid.mat`` layout (1-based)."""
  import scipy.io
  gt = np.asarray(gt, np.float64)
  valid = np.asarray(valid) > 0
  headboxes = np.asarray(headboxes, np.float64)
  n = gt.shape[0]
  if gt.shape != (n, NUM_JOINTS, 2) or valid.shape != (n, NUM_JOINTS) or headboxes.shape != (n, 2, 2):
    raise ValueError(f"want gt (N, 16, 2), valid (N, 16), headboxes (N, 2, 2); got "
                     f"{gt.shape}, {valid.shape}, {headboxes.shape}")
  names = np.empty((1, len(joint_names)), dtype=object)
  names[0, :] = list(joint_names)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  scipy.io.savemat(path, {
      "pos_gt_src": (gt + 1.0).transpose(1, 2, 0),
      "jnt_missing": (~valid).astype(np.float64).T,
      "headboxes_src": (headboxes + 1.0).transpose(1, 2, 0),
      "dataset_joints": names})
  return path
