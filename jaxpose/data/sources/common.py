"""What the real-dataset readers share: the error policy, geometry helpers, file loading.

Every reader turns raw annotation entries into ``PoseRecord``s through a ``RecordSink``:
with ``on_error="raise"`` the first bad entry raises ``DataError`` (naming file, record
and field); with ``on_error="skip"`` bad entries are dropped, counted and reported in one
logged warning. ``record.index`` is the entry's position in its split *before* skipping,
so it stays a stable id (and matches side files such as ``gt_valid.mat`` by order).
"""
from __future__ import annotations

import logging
import os
from typing import Callable, Optional

import numpy as np

from jaxpose.errors import DataError
from jaxpose.data.records import PoseRecord, validate

log = logging.getLogger(__name__)

ON_ERROR = ("raise", "skip")

# Person box → ``scale`` for datasets without one (LSP, LSPET, Buffy): scale =
# BOX_FACTOR * max(box width, box height) / 200, the box being that of the annotated
# joints. On MPII (16,992 fully annotated people) the joint box's longer side is
# 0.86 × 200·scale at the median, so 1/0.86 ≈ 1.15 frames these people as MPII's are.
BOX_FACTOR = 1.15

# Annotated joints may lie outside the image (people cut off by the border); farther out than
# this fraction of the image's width (for x) or height (for y) is an error. Measured on every
# labelled joint of the releases (2026-12, issue #39): LSP 6 of 28,000 outside, at most 0.8 px
# (0.6%); Buffy 7 of 5,984, at most 1.1 px (0.3%); MPII 532 of 376,263, at most 94 px / 13.1%
# of the side; FLIC 14 of 55,033, at most 73.6 px / 15.3%; LSPET 31 of 123,213, at most 2.2 px
# (2.0%) but for one labelling error, im08075.jpg's r_knee 145 px (60%) right of its 241-px
# image, which this margin refuses (the LSP recipes skip it: ``lsp_protocol`` of jaxpose/configs/common.py).
OUTSIDE_MARGIN = 0.25


class RecordSink:
  """Validates records one by one and applies the ``on_error`` policy.

  Args:
    source: the annotation file (named in every error message).
    num_joints: joints per record of this dataset's skeleton.
    on_error: "raise" or "skip".
    limit: stop after this many good records (None: all).
  """

  def __init__(self, source: str, num_joints: int, on_error: str = "raise",
               limit: Optional[int] = None):
    if on_error not in ON_ERROR:
      raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    self.source = source
    self.num_joints = num_joints
    self.on_error = on_error
    self.limit = limit
    self.records: list[PoseRecord] = []
    self.skipped = 0
    self.first_error = ""

  @property
  def full(self) -> bool:
    return self.limit is not None and len(self.records) >= self.limit

  def add(self, index: int, name: str, make: Callable[[], PoseRecord]) -> None:
    """Builds (``make``), names and validates one record; keeps it or handles the error."""
    try:
      record = make()
      record.index, record.name = int(index), name
      self.records.append(validate(record, self.num_joints, self.source))
    except DataError as e:
      self.fail(e)
    except (KeyError, IndexError, TypeError, ValueError) as e:
      self.fail(DataError(f"{self.source}, record {index} ({name}): {e}"))

  def fail(self, error: DataError) -> None:
    if self.on_error == "raise":
      raise error
    self.skipped += 1
    self.first_error = self.first_error or str(error)

  def done(self, split: str) -> list[PoseRecord]:
    """The good records; warns with the count of skipped ones, raises on an empty split."""
    if self.skipped:
      log.warning("%s: skipped %d bad record(s) of split %r; first: %s", self.source,
                  self.skipped, split, self.first_error)
    if not self.records:
      raise DataError(f"{self.source}: split {split!r} is empty"
                      + (f" ({self.skipped} bad records skipped)" if self.skipped else ""))
    return self.records


def where(source: str, index: int, name: str) -> str:
  return f"{source}, record {index} ({name})"


def require_file(path: str, what: str) -> str:
  """``path`` if it is a file, else ``DataError`` naming it."""
  if not os.path.isfile(path):
    raise DataError(f"{what}: annotation file not found: {path}")
  return path


def load_mat(path: str) -> dict:
  """A MATLAB file as a dict; missing or unreadable files raise ``DataError``."""
  import scipy.io
  require_file(path, "MATLAB file")
  try:
    return scipy.io.loadmat(path)
  except Exception as e:  # scipy raises many types for corrupt files
    raise DataError(f"{path}: not a readable MATLAB file ({type(e).__name__}: {e})") from None


def mat_field(mat: dict, key: str, path: str, ndim: Optional[int] = None) -> np.ndarray:
  if key not in mat:
    keys = sorted(k for k in mat if not k.startswith("__"))
    raise DataError(f"{path}: field {key!r} missing; the file has {keys}")
  value = np.asarray(mat[key])
  if ndim is not None and value.ndim != ndim:
    raise DataError(f"{path}: field {key!r} must have {ndim} dimensions, got shape {value.shape}")
  return value


def box_center_scale(xy: np.ndarray, valid: np.ndarray,
                     factor: float = BOX_FACTOR) -> tuple[np.ndarray, float]:
  """Centre and scale of the box of the annotated points (see ``BOX_FACTOR``).

  Returns scale 0 when fewer than two distinct points are annotated, which
  ``validate`` then rejects.
  """
  pts = np.asarray(xy, np.float64)[np.asarray(valid) > 0]
  pts = pts[np.isfinite(pts).all(axis=1)]
  if len(pts) == 0:
    return np.zeros(2, np.float32), 0.0
  lo, hi = pts.min(axis=0), pts.max(axis=0)
  return ((lo + hi) / 2).astype(np.float32), float(factor * (hi - lo).max() / 200.0)


def check_inside(xy: np.ndarray, valid: np.ndarray, width: float, height: float, at: str,
                 names: tuple[str, ...], margin: float = OUTSIDE_MARGIN) -> None:
  """Raises ``DataError`` if an annotated joint lies far outside a width×height image."""
  xy = np.asarray(xy, np.float64)
  lo = -margin * np.array([width, height])
  hi = (1 + margin) * np.array([width, height])
  bad = (np.asarray(valid) > 0) & ((xy < lo) | (xy > hi)).any(axis=1)
  if bad.any():
    k = int(np.flatnonzero(bad)[0])
    raise DataError(f"{at}: field 'joints': {names[k]} at ({xy[k, 0]:.1f}, {xy[k, 1]:.1f}) "
                    f"lies outside the {width:g}×{height:g} image by more than {margin:.0%} "
                    f"of its size")


def distance(xy: np.ndarray, valid: np.ndarray, a: int, b: int) -> float:
  """Distance between joints a and b, or 0 when either is unannotated."""
  if valid[a] <= 0 or valid[b] <= 0:
    return 0.0
  return float(np.linalg.norm(np.asarray(xy[a], np.float64) - np.asarray(xy[b], np.float64)))


def refine(records: list[PoseRecord], fn: Callable[[PoseRecord], None], source: str,
           on_error: str, split: str) -> list[PoseRecord]:
  """Applies ``fn`` (which fills fields from a side file) to each record, with the policy."""
  sink = RecordSink(source, 0, on_error)
  for r in records:
    try:
      fn(r)
      sink.records.append(r)
    except DataError as e:
      sink.fail(e)
  return sink.done(split)
