"""MPII Human Pose readers for the four annotation formats in circulation.

All are 1-based MATLAB pixels (1 is subtracted) in the ``MPII`` skeleton's joint order.
Splits: ``train`` (22,246 people) and ``validation`` (2,958), the Tompson et al. split
that the stacked-hourglass and PyTorch ports use; the test set has no public labels.

(a) ``mpii_annotations.json(.gz)`` — one entry per person (PyTorch hourglass ports):
    ``img_paths``, ``joint_self`` (16 × [x, y, visible]), ``objpos``, ``scale_provided``,
    ``isValidation``, optional ``img_width``/``img_height``. Unannotated joints are
    x = y = 0 with flag 0 (27,001 joints); a negative coordinate (366 joints, flag 1) is
    a real annotation outside the image, as are the 95 past the right/bottom border.
(b) HRNet/mmpose ``annot/{train,valid}.json`` — one entry per person: ``image``,
    ``center``, ``scale``, ``joints`` (16 × [x, y]), ``joints_vis`` (1 = annotated; no
    occlusion flag, so visible = valid).
(c) ``valid.h5`` of the stacked-hourglass code (validation only): ``part``, ``visible``,
    ``center``, ``scale``, ``normalize``, ``imgname``. Its centre and scale carry the
    hourglass crop adjustment (centre y + 15·s, scale × 1.25); the reader undoes it so
    ``scale`` is MPII's own. ``part`` is the json position truncated to integers.
(d) the official ``gt_valid.mat`` (``pos_gt_src`` 2×16×N, ``jnt_missing`` 16×N,
    ``headboxes_src`` 2×2×N as [corner, (x, y), n]), in the validation order of (b)/(c);
    read by ``jaxpose.formats.mpii``, the one module of the official evaluation files.

``norm`` is the PCKh normaliser 0.6 × head-box diagonal. Only (c) and (d) carry it; they
are used for the validation split when present (``gt_valid.mat`` also gives the head box).
Otherwise — and always for train — ``norm`` = ``NORM_PER_SCALE`` × scale: MPII's
``scale`` is itself derived from the head box, and on the 2,958 validation people
``normalize`` / ``scale_provided`` = 25.000 (p10–p90 24.996–25.004; equivalently
0.75 × |head top − upper neck|, which agrees on train to 0.1% at the median).

Images are ``<root>/images/<imgname>``; readers never open them.
"""
from __future__ import annotations

import functools
import gzip
import zlib
import json
import os
from typing import Optional

import numpy as np

from jaxpose import skeleton as skel
from jaxpose.errors import DataError
from jaxpose.data.records import PoseRecord
from jaxpose.data.sources import common
from jaxpose.formats import mpii as official

SPLITS = ("train", "validation")
K = skel.MPII.num_joints
NORM_PER_SCALE = 25.0
PEOPLE_JSON = ("mpii_annotations.json.gz", "mpii_annotations.json")
HRNET_JSON = {"train": os.path.join("annot", "train.json"),
              "validation": os.path.join("annot", "valid.json")}
VALID_H5 = "valid.h5"
GT_VALID = ("gt_valid.mat", os.path.join("annot", "gt_valid.mat"))
# Every file ``read`` may use, in the order the TFDS cache key hashes them.
ANNOTATION_FILES = PEOPLE_JSON + tuple(HRNET_JSON.values()) + (VALID_H5,) + GT_VALID


def load_json(path: str) -> list:
  """A json list (gzip-compressed when the name ends in .gz); treat it as read-only.

  Parsed once per (path, size, mtime): the people json takes seconds to parse and both
  splits come from it.
  """
  common.require_file(path, "MPII json")
  st = os.stat(path)
  return _load_json(os.path.abspath(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _load_json(path: str, size: int, mtime: int) -> list:
  del size, mtime  # cache key only
  try:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
      data = json.load(f)
  except (OSError, ValueError, EOFError, zlib.error) as e:  # EOFError: a truncated .gz
    raise DataError(f"{path}: not a readable json file ({type(e).__name__}: {e})") from None
  if not isinstance(data, list):
    raise DataError(f"{path}: expected a json list of people, got {type(data).__name__}")
  return data


def _field(entry: dict, key: str, at: str):
  if not isinstance(entry, dict) or key not in entry:
    raise DataError(f"{at}: field {key!r} missing")
  return entry[key]


def _array(value, shape: tuple, key: str, at: str) -> np.ndarray:
  try:
    arr = np.asarray(value, np.float64)
  except (TypeError, ValueError):
    raise DataError(f"{at}: field {key!r} is not numeric") from None
  if arr.shape != shape:
    raise DataError(f"{at}: field {key!r} must have shape {shape}, got {arr.shape}")
  return arr


def _record(image: str, xy1: np.ndarray, valid: np.ndarray, visible: np.ndarray,
            center1: np.ndarray, scale: float, at: str, size=None) -> PoseRecord:
  """A record from 1-based positions; ``size`` = (width, height) when known."""
  xy = np.where(valid[:, None] > 0, xy1 - 1.0, 0.0)
  if size is not None:
    common.check_inside(xy, valid, size[0], size[1], at, skel.MPII.joints)
  return PoseRecord(
      image=image, joints=np.concatenate([xy, (visible * valid)[:, None]], 1).astype(np.float32),
      valid=valid.astype(np.float32), center=(center1 - 1.0).astype(np.float32),
      scale=float(scale), norm=NORM_PER_SCALE * float(scale))


def _person_record(entry: dict, root: str, at: str) -> PoseRecord:
  """Format (a)."""
  name = str(_field(entry, "img_paths", at))
  j = _array(_field(entry, "joint_self", at), (K, 3), "joint_self", at)
  center = _array(_field(entry, "objpos", at), (2,), "objpos", at)
  scale = float(_field(entry, "scale_provided", at))
  valid = (~((j[:, 0] == 0) & (j[:, 1] == 0))).astype(np.float64)
  size = None
  if "img_width" in entry and "img_height" in entry:
    size = (float(entry["img_width"]), float(entry["img_height"]))
  return _record(os.path.join(root, "images", name), j[:, :2], valid, j[:, 2], center, scale,
                 at, size)


def _hrnet_record(entry: dict, root: str, at: str) -> PoseRecord:
  """Format (b)."""
  name = str(_field(entry, "image", at))
  xy = _array(_field(entry, "joints", at), (K, 2), "joints", at)
  vis = _array(_field(entry, "joints_vis", at), (K,), "joints_vis", at)
  center = _array(_field(entry, "center", at), (2,), "center", at)
  valid = (vis > 0).astype(np.float64)
  return _record(os.path.join(root, "images", name), xy, valid, valid, center,
                 float(_field(entry, "scale", at)), at)


def read_people_json(path: str, split: str, root: str, on_error: str = "raise",
                     limit: Optional[int] = None) -> common.RecordSink:
  """Format (a): the people of ``split`` (``isValidation`` 0 → train, 1 → validation)."""
  data = load_json(path)
  sink = common.RecordSink(path, K, on_error, limit)
  want = 1 if split == "validation" else 0
  i = 0
  for n, entry in enumerate(data):
    if sink.full:
      break
    try:
      flag = int(_field(entry, "isValidation", common.where(path, n, "?")))
    except (DataError, TypeError, ValueError) as e:
      sink.fail(e if isinstance(e, DataError) else DataError(
          f"{common.where(path, n, '?')}: field 'isValidation' is not 0/1"))
      continue
    if flag != want:
      continue
    name = str(entry.get("img_paths", "?"))
    at = common.where(path, i, name)
    sink.add(i, name, lambda e=entry, at=at: _person_record(e, root, at))
    i += 1
  return sink


def read_hrnet_json(path: str, root: str, on_error: str = "raise",
                    limit: Optional[int] = None) -> common.RecordSink:
  """Format (b): every person of one HRNet/mmpose split file."""
  data = load_json(path)
  sink = common.RecordSink(path, K, on_error, limit)
  for n, entry in enumerate(data):
    if sink.full:
      break
    name = str(entry.get("image", "?")) if isinstance(entry, dict) else "?"
    at = common.where(path, n, name)
    sink.add(n, name, lambda e=entry, at=at: _hrnet_record(e, root, at))
  return sink


def _h5_arrays(path: str) -> dict:
  import h5py
  common.require_file(path, "MPII valid.h5")
  try:
    with h5py.File(path, "r") as f:
      missing = [k for k in ("part", "visible", "center", "scale", "normalize", "imgname")
                 if k not in f]
      if missing:
        raise DataError(f"{path}: field {missing[0]!r} missing; the file has {sorted(f)}")
      out = {k: f[k][()] for k in ("part", "visible", "center", "scale", "normalize", "imgname")}
  except OSError as e:
    raise DataError(f"{path}: not a readable HDF5 file ({e})") from None
  out["imgname"] = [n.decode() if isinstance(n, bytes) else str(n) for n in out["imgname"]]
  n = len(out["imgname"])
  for key, shape in (("part", (n, K, 2)), ("visible", (n, K)), ("center", (n, 2)),
                     ("scale", (n,)), ("normalize", (n,))):
    if out[key].shape != shape:
      raise DataError(f"{path}: field {key!r} must have shape {shape}, got {out[key].shape}")
  # Undo the hourglass crop adjustment: scale × 1.25, centre y + 15 × scale.
  out["scale"] = out["scale"] / 1.25
  out["center"] = out["center"] - np.stack([np.zeros(n), 15.0 * out["scale"]], axis=1)
  return out


def read_valid_h5(path: str, root: str, on_error: str = "raise",
                  limit: Optional[int] = None) -> common.RecordSink:
  """Format (c): the validation people, with the official ``normalize``."""
  a = _h5_arrays(path)
  sink = common.RecordSink(path, K, on_error, limit)
  for n, name in enumerate(a["imgname"]):
    if sink.full:
      break
    at = common.where(path, n, name)

    def make(n=n, name=name, at=at):
      part = a["part"][n].astype(np.float64)
      valid = (~((part[:, 0] == 0) & (part[:, 1] == 0))).astype(np.float64)
      r = _record(os.path.join(root, "images", name), part, valid, a["visible"][n], a["center"][n],
                  a["scale"][n], at)
      r.norm = float(a["normalize"][n])
      return r
    sink.add(n, name, make)
  return sink


def _apply_gt_valid(r: PoseRecord, gt: official.GtValid, path: str) -> None:
  """Format (d): head box and normaliser from ``gt_valid.mat`` (read by
  ``jaxpose.formats.mpii.read_gt_valid``), matched by validation order."""
  at = common.where(path, r.index, r.name)
  if r.index >= len(gt.norm):
    raise DataError(f"{at}: no entry in {path} ({len(gt.norm)} people)")
  both = (r.valid > 0) & (gt.valid[r.index] > 0)
  if both.any() and np.abs(r.joints[both, :2] - gt.gt[r.index, both]).max() > 1.5:
    raise DataError(f"{at}: field 'pos_gt_src' disagrees with the annotation file by more "
                    f"than 1.5 px; the files are not in the same validation order")
  if not gt.norm[r.index] > 0:
    raise DataError(f"{at}: field 'headboxes_src' is an empty head box")
  r.head_box = gt.headboxes[r.index].reshape(4).astype(np.float32)  # x1, y1, x2, y2
  r.norm = float(gt.norm[r.index])


def _h5_matcher(path: str):
  """A function setting a record's ``normalize`` from ``valid.h5``, matched by image name
  and person centre (< 2 px)."""
  a = _h5_arrays(path)
  by_name: dict[str, list[int]] = {}
  for n, name in enumerate(a["imgname"]):
    by_name.setdefault(name, []).append(n)

  def apply(r: PoseRecord) -> None:
    name = os.path.basename(str(r.image))
    cands = [n for n in by_name.get(name, ())
             if np.abs(a["center"][n] - 1.0 - r.center).max() < 2.0]
    if not cands:
      raise DataError(f"{common.where(path, r.index, r.name)}: field 'normalize': no person of "
                      f"{name} near centre {r.center.tolist()} in {path}")
    r.norm = float(a["normalize"][cands[0]])
  return apply


def find(root: str, candidates) -> Optional[str]:
  for rel in candidates:
    path = os.path.join(root, rel)
    if os.path.isfile(path):
      return path
  return None


def read(split: str, root: str, on_error: str = "raise",
         limit: Optional[int] = None) -> list[PoseRecord]:
  """The people of ``split`` from whichever format ``root`` holds (a, b, then c)."""
  if split not in SPLITS:
    raise DataError(f"mpii: no split {split!r}; splits are {SPLITS}")
  people = find(root, PEOPLE_JSON)
  hrnet = find(root, [HRNET_JSON[split]])
  h5 = find(root, [VALID_H5])
  if people:
    sink = read_people_json(people, split, root, on_error, limit)
  elif hrnet:
    sink = read_hrnet_json(hrnet, root, on_error, limit)
  elif split == "validation" and h5:
    sink = read_valid_h5(h5, root, on_error, limit)
  else:
    looked = list(PEOPLE_JSON) + [HRNET_JSON[split]]
    looked += [VALID_H5] if split == "validation" else []
    raise DataError(f"mpii: annotation file not found in {root}: looked for {looked}")
  records = sink.done(split)
  if split == "validation":
    gt = find(root, GT_VALID)
    if gt:
      table = official.read_gt_valid(gt)
      records = common.refine(records, lambda r: _apply_gt_valid(r, table, gt), gt, on_error,
                              split)
    elif h5 and sink.source != h5:
      records = common.refine(records, _h5_matcher(h5), h5, on_error, split)
  return records
