"""The one record type every dataset reader produces, and its validation.

A ``PoseRecord`` is plain numpy (no tf): readers in ``jaxpose/data/sources`` build
them, TFDS builders serialise them, and everything after that sees the same fields
under the same names (``FEATURE_KEYS``).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Optional

import numpy as np

# Defined below both data and evaluation (the official file formats raise it too).
from jaxpose.errors import DataError

__all__ = ["PoseRecord", "cache_dir", "data_root", "validate"]


@dataclasses.dataclass
class PoseRecord:
  """One annotated person.

  Attributes:
    image: encoded image bytes (PNG/JPEG), or an image path, or a (H, W, 3) uint8 array.
    joints: (K, 3) float32: x, y in 0-based pixels (pixel centres at integers) and
      the visibility flag (1 = not occluded).
    valid: (K,) 1 where the joint is annotated.
    center: (2,) person centre in pixels.
    scale: person height / 200 px (MPII convention).
    norm: the dataset's PCKh/PCK normaliser in pixels (MPII: 0.6 × head-box diagonal).
    head_box: (4,) x1, y1, x2, y2 or zeros where the dataset has none.
    index: position of the record in its split.
    name: a human-readable id (file name, image id) used in error messages.
  """
  image: object
  joints: np.ndarray
  valid: np.ndarray
  center: np.ndarray
  scale: float
  norm: float
  head_box: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(4, np.float32))
  index: int = 0
  name: str = ""

  @property
  def visible(self) -> np.ndarray:
    return (self.joints[:, 2] * self.valid).astype(np.float32)


def validate(record: PoseRecord, num_joints: int, source: str) -> PoseRecord:
  """Checks shapes and values; raises ``DataError`` naming source, record and field."""
  where = f"{source}, record {record.index} ({record.name or 'unnamed'})"
  joints = np.asarray(record.joints, np.float32)
  if joints.ndim != 2 or joints.shape[1] != 3:
    raise DataError(f"{where}: field 'joints' must have shape (K, 3), got {joints.shape}")
  if joints.shape[0] != num_joints:
    raise DataError(f"{where}: field 'joints' has {joints.shape[0]} joints, expected {num_joints}")
  valid = np.asarray(record.valid, np.float32).reshape(-1)
  if valid.shape != (num_joints,):
    raise DataError(f"{where}: field 'valid' has shape {valid.shape}, expected ({num_joints},)")
  bad = ~np.isfinite(joints[:, :2]).all(axis=1) & (valid > 0)
  if bad.any():
    raise DataError(f"{where}: field 'joints' has NaN/inf coordinates for annotated joints "
                    f"{np.flatnonzero(bad).tolist()}")
  center = np.asarray(record.center, np.float32).reshape(-1)
  if center.shape != (2,) or not np.isfinite(center).all():
    raise DataError(f"{where}: field 'center' must be 2 finite numbers, got {record.center!r}")
  for field in ("scale", "norm"):
    value = float(getattr(record, field))
    if not np.isfinite(value) or value <= 0:
      raise DataError(f"{where}: field '{field}' must be a positive number, got {value}")
  if valid.sum() == 0:
    raise DataError(f"{where}: no annotated joint")
  joints = np.where(valid[:, None] > 0, joints, 0.0).astype(np.float32)
  return dataclasses.replace(
      record, joints=joints, valid=valid, center=center, scale=float(record.scale),
      norm=float(record.norm), head_box=np.asarray(record.head_box, np.float32).reshape(4))


def data_root(name: Optional[str] = None, root: Optional[str] = None) -> str:
  """The folder of a dataset's raw files: ``root`` if given, else ``$JAXPOSE_DATA/<name>``.

  ``JAXPOSE_DATA`` defaults to ``../shared/data`` relative to the working directory.
  """
  if root:
    return os.path.expanduser(root)
  base = os.environ.get("JAXPOSE_DATA", os.path.join("..", "shared", "data"))
  return os.path.join(base, name) if name else base


def cache_dir() -> str:
  """Where generated and prepared TFDS data go (``$JAXPOSE_CACHE`` or ~/.cache/jaxpose)."""
  return os.path.expanduser(os.environ.get("JAXPOSE_CACHE", os.path.join("~", ".cache", "jaxpose")))
