"""Leeds Sports Pose (LSP) and LSP extended (LSPET) readers: ``joints.mat`` → ``PoseRecord``s.

Files (``<root>/joints.mat``, images ``<root>/images/im0001.jpg`` / ``im00001.jpg``):

* LSP ``joints`` is (3, 14, 2000): x, y and a flag where 1 means OCCLUDED, so
  visible = 1 − flag. Every joint is annotated (valid = 1).
* LSPET ``joints`` is (14, 3, 10000): x, y and a flag where 1 means VISIBLE. In the
  released file every joint with flag 0 (16,787 of 140,000) sits at x ≤ 0 or y ≤ 0 with no
  position: flag 0 means *unannotated*, so valid = flag and visible = valid. Nine joints
  with flag 1 lie on or just past the border (y ∈ [−1.2, 0]); they are real annotations.

Both are MATLAB files: coordinates are 1-based, so 1 is subtracted. Joint order is the
``LSP`` skeleton (the files' own order).

Neither dataset has a person centre or scale; following the usual conversions (the
person box of the annotated joints), ``center`` = centre of that box and ``scale`` =
``common.BOX_FACTOR`` × the box's longer side / 200. ``norm`` is the PCK torso size: the
distance left shoulder – right hip (``LSP.torso``); where either is unannotated (LSPET),
the other diagonal (right shoulder – left hip), else ``TORSO_PER_SCALE`` × 200·scale.

Splits: ``lsp`` train = images 1–1000, test = 1001–2000; ``lspet`` train = all 10,000;
``lsp_lspet`` (root holding ``lsp/`` and ``lspet/``) train = LSP train + LSPET (11,000),
test = LSP test.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from jaxpose import skeleton as skel
from jaxpose.errors import DataError
from jaxpose.data.records import PoseRecord
from jaxpose.data.sources import common

SPLITS = {"lsp": ("train", "test"), "lspet": ("train",), "lsp_lspet": ("train", "test")}
JOINTS_MAT = "joints.mat"
# Every file ``read`` may use, per dataset, relative to its root.
ANNOTATION_FILES = {
    "lsp": (JOINTS_MAT,), "lspet": (JOINTS_MAT,),
    "lsp_lspet": (os.path.join("lsp", JOINTS_MAT), os.path.join("lspet", JOINTS_MAT))}
LSP_TRAIN = range(1, 1001)  # 1-based image numbers
LSP_TEST = range(1001, 2001)

# Torso size per 200·scale, measured on LSP train where both diagonals exist
# (median 0.31; p10–p90 0.26–0.39): the last-resort normaliser (1,705 LSPET records).
TORSO_PER_SCALE = 0.31

_L_SHO, _R_HIP = skel.LSP.torso
_R_SHO, _L_HIP = skel.LSP.index("r_shoulder"), skel.LSP.index("l_hip")


def load_joints(path: str, extended: bool) -> np.ndarray:
  """The raw (N, 14, 3) array of an LSP (``extended=False``) or LSPET ``joints.mat``."""
  joints = common.mat_field(common.load_mat(path), "joints", path, ndim=3)
  want = (14, 3) if extended else (3, 14)
  if joints.shape[:2] != want:
    raise DataError(f"{path}: field 'joints' must have shape {want + ('N',)} "
                    f"({'LSPET' if extended else 'LSP'} layout), got {joints.shape}")
  joints = joints.astype(np.float64)
  return joints.transpose(2, 0, 1) if extended else joints.transpose(2, 1, 0)


def torso_norm(xy: np.ndarray, valid: np.ndarray, scale: float) -> float:
  """PCK torso size (see the module docstring for the fallbacks)."""
  d = common.distance(xy, valid, _L_SHO, _R_HIP) or common.distance(xy, valid, _R_SHO, _L_HIP)
  return d if d > 0 else TORSO_PER_SCALE * 200.0 * scale


def _record(raw: np.ndarray, extended: bool, image: str, at: str) -> PoseRecord:
  flags = raw[:, 2]
  if not np.isin(flags, (0.0, 1.0)).all():
    raise DataError(f"{at}: field 'joints': flags must be 0 or 1, got {np.unique(flags).tolist()}")
  xy = raw[:, :2] - 1.0
  if extended:
    valid = flags.copy()
    visible = valid
  else:
    valid = np.ones(14)
    visible = 1.0 - flags
  center, scale = common.box_center_scale(xy, valid)
  return PoseRecord(
      image=image, joints=np.concatenate([xy, visible[:, None]], axis=1).astype(np.float32),
      valid=valid.astype(np.float32), center=center, scale=scale,
      norm=torso_norm(xy, valid, scale))


def _read(root: str, numbers: range, extended: bool, split: str, on_error: str,
          limit: Optional[int], prefix: str = "", offset: int = 0,
          sink: Optional[common.RecordSink] = None) -> common.RecordSink:
  path = os.path.join(root, JOINTS_MAT)
  joints = load_joints(path, extended)
  sink = sink or common.RecordSink(path, skel.LSP.num_joints, on_error, limit)
  sink.source = path
  digits = 5 if extended else 4
  for i, number in enumerate(numbers):
    if sink.full or number > len(joints):
      break
    name = f"im{number:0{digits}d}.jpg"
    image = os.path.join(root, "images", name)
    at = common.where(path, offset + i, prefix + name)
    sink.add(offset + i, prefix + name,
             lambda n=number, im=image, at=at: _record(joints[n - 1], extended, im, at))
  return sink


def read(name: str, split: str, root: str, on_error: str = "raise",
         limit: Optional[int] = None) -> list[PoseRecord]:
  """The records of ``split`` of ``lsp``, ``lspet`` or ``lsp_lspet`` (see module docstring)."""
  if name not in SPLITS or split not in SPLITS[name]:
    raise DataError(f"{name}: no split {split!r}; splits are {SPLITS.get(name)}")
  if name == "lsp":
    numbers = LSP_TRAIN if split == "train" else LSP_TEST
    return _read(root, numbers, False, split, on_error, limit).done(split)
  if name == "lspet":
    n = len(load_joints(os.path.join(root, JOINTS_MAT), True))
    return _read(root, range(1, n + 1), True, split, on_error, limit).done(split)
  lsp_root, lspet_root = os.path.join(root, "lsp"), os.path.join(root, "lspet")
  if split == "test":
    return _read(lsp_root, LSP_TEST, False, split, on_error, limit, prefix="lsp/").done(split)
  sink = _read(lsp_root, LSP_TRAIN, False, split, on_error, limit, prefix="lsp/")
  n = len(load_joints(os.path.join(lspet_root, JOINTS_MAT), True))
  sink = _read(lspet_root, range(1, n + 1), True, split, on_error, limit, prefix="lspet/",
               offset=len(LSP_TRAIN), sink=sink)
  return sink.done(split)
