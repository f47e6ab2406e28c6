"""FLIC reader: ``examples.mat`` → ``PoseRecord``s in the ``FLIC`` skeleton (11 joints).

``examples`` is a 1×5003 struct array; each entry has ``coords`` (2, 29) with NaN in the
unlabelled slots, ``torsobox`` (x1, y1, x2, y2), ``filepath``, ``imgdims`` (H, W, 3),
``istrain``, ``istest`` (3,987 train / 1,016 test; no entry is both or neither).

The 29 slots follow the original FLIC lookup (1-based): lsho 1, lelb 2, lwri 3, rsho 4,
relb 5, rwri 6, lhip 7, rhip 10, leye 13, reye 14, nose 17 — the only slots labelled, in
all 5,003 entries. The labels are person-centric: the left shoulder is at larger x than
the right one in 95.1% of the frames (people mostly face the camera), as for the MPII
skeleton. ``hg_annot/*_personcentric.h5`` hold exactly these 11 slots in the ``FLIC``
skeleton's order; ``hg_annot/{train,valid}.h5`` are the observer-centric variant (left
and right swapped in 199 of 3,987 train entries so that "left" is always image-right).

Coordinates are 1-based MATLAB pixels (1 is subtracted). Every joint is annotated and
visible (FLIC has no occlusion flags); a NaN in a labelled slot is an error. The person
crop follows the stacked-hourglass FLIC protocol: ``center`` = (torso-box centre x, image
centre y), ``scale`` = ``HG_SCALE`` (a 550-px crop with ``scale_pad`` 1.25: the full
480-px frame height). ``norm`` = torso size = distance left shoulder – right hip (the
``FLIC.torso`` PCK convention; the hourglass ``normalize`` uses right shoulder – left hip).
The torso boxes themselves (used by Li et al. 2014 §4.4 crops) come from ``torso_boxes``.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from jaxpose import skeleton as skel
from jaxpose.errors import DataError
from jaxpose.data.records import PoseRecord
from jaxpose.data.sources import common

SPLITS = ("train", "test")
EXAMPLES_MAT = "examples.mat"
ANNOTATION_FILES = (EXAMPLES_MAT,)  # every file ``read`` uses, relative to the root
SLOTS = (1, 2, 3, 4, 5, 6, 7, 10, 13, 14, 17)  # 1-based FLIC slots, FLIC skeleton order
HG_SCALE = 2.2
_FIELDS = ("coords", "torsobox", "filepath", "imgdims", "istrain", "istest")
_L_SHO, _R_HIP = skel.FLIC.torso


def load_examples(path: str) -> np.ndarray:
  """The (N,) struct array ``examples`` of a FLIC ``examples.mat``."""
  ex = common.mat_field(common.load_mat(path), "examples", path).reshape(-1)
  names = ex.dtype.names or ()
  for f in _FIELDS:
    if f not in names:
      raise DataError(f"{path}: field 'examples.{f}' missing; the struct has {list(names)}")
  return ex


def _scalar(entry, key: str, at: str) -> float:
  value = np.asarray(entry[key]).reshape(-1)
  if value.size != 1:
    raise DataError(f"{at}: field {key!r} must be a scalar, got shape {np.shape(entry[key])}")
  return float(value[0])


def _vector(entry, key: str, size: int, at: str) -> np.ndarray:
  value = np.asarray(entry[key], np.float64).reshape(-1)
  if value.size != size:
    raise DataError(f"{at}: field {key!r} must have {size} numbers, "
                    f"got shape {np.shape(entry[key])}")
  return value


def _record(entry, root: str, at: str) -> PoseRecord:
  coords = np.asarray(entry["coords"], np.float64)
  if coords.shape != (2, 29):
    raise DataError(f"{at}: field 'coords' must have shape (2, 29), got {coords.shape}")
  xy = coords[:, np.array(SLOTS) - 1].T - 1.0
  nan = ~np.isfinite(xy).all(axis=1)
  if nan.any():
    raise DataError(f"{at}: field 'coords' has NaN for labelled joint "
                    f"{skel.FLIC.joints[int(np.flatnonzero(nan)[0])]} (slot "
                    f"{SLOTS[int(np.flatnonzero(nan)[0])]})")
  height, width = _vector(entry, "imgdims", 3, at)[:2]
  valid = np.ones(len(SLOTS))
  common.check_inside(xy, valid, width, height, at, skel.FLIC.joints)
  box = _vector(entry, "torsobox", 4, at) - 1.0
  center = np.array([(box[0] + box[2]) / 2, (height - 1) / 2], np.float32)
  return PoseRecord(
      image=os.path.join(root, "images", str(np.asarray(entry["filepath"]).reshape(-1)[0])),
      joints=np.concatenate([xy, valid[:, None]], axis=1).astype(np.float32),
      valid=valid.astype(np.float32), center=center, scale=HG_SCALE,
      norm=common.distance(xy, valid, _L_SHO, _R_HIP))


def _in_split(entry, split: str, at: str) -> bool:
  return _scalar(entry, "istrain" if split == "train" else "istest", at) > 0


def _name(entry) -> str:
  try:
    return str(np.asarray(entry["filepath"]).reshape(-1)[0])
  except (IndexError, ValueError):
    return "?"


def read(split: str, root: str, on_error: str = "raise",
         limit: Optional[int] = None) -> list[PoseRecord]:
  """The examples of ``split`` (``istrain`` / ``istest``), in file order."""
  if split not in SPLITS:
    raise DataError(f"flic: no split {split!r}; splits are {SPLITS}")
  path = os.path.join(root, EXAMPLES_MAT)
  examples = load_examples(path)
  sink = common.RecordSink(path, skel.FLIC.num_joints, on_error, limit)
  i = 0  # position in the split
  for n, entry in enumerate(examples):
    if sink.full:
      break
    try:
      if not _in_split(entry, split, common.where(path, n, _name(entry))):
        continue
    except DataError as e:
      sink.fail(e)
      continue
    at = common.where(path, i, _name(entry))
    sink.add(i, _name(entry), lambda e=entry, at=at: _record(e, root, at))
    i += 1
  return sink.done(split)


def torso_boxes(split: str, root: str) -> np.ndarray:
  """(N, 4) FLIC torso boxes (x1, y1, x2, y2), 0-based, row i for ``record.index`` i.

  Indexed by position, not by name: some frames hold two annotated people.
  """
  path = os.path.join(root, EXAMPLES_MAT)
  out = []
  for n, entry in enumerate(load_examples(path)):
    at = common.where(path, n, _name(entry))
    if _in_split(entry, split, at):
      out.append(_vector(entry, "torsobox", 4, at) - 1.0)
  return np.asarray(out, np.float32).reshape(-1, 4)
