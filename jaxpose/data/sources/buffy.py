"""Buffy Stickmen v3.0 reader: stick annotations → ``UPPER_BODY`` joints (Li et al. 2014 §4.1).

``<root>/data/buffy_s5e{N}_sticks.txt`` holds, per annotated frame, a line with the frame
number and six lines ``x1 y1 x2 y2``: torso, left upper arm, right upper arm, left lower
arm, right lower arm, head — "left" and "right" *as they appear in the image* (Buffy
README). The end points of a stick come in no fixed order. Images are
``<root>/images/buffy_s5e{N}_original/<frame:06d>.jpg``. Coordinates are 1-based MATLAB
pixels (1 is subtracted). Splits: ``test`` = episodes 2, 5, 6 (276 frames), ``train`` =
episodes 3, 4 (472 frames).

Joints, following Li et al. §4.1 ("the nearest end of stick or average of nearest ends";
the head stick's middle point as the nose):

* torso top T = the torso end nearer to the head stick; head bottom = the head end nearer T;
* nose = midpoint of the head stick; neck = average of T and the head bottom;
* each arm is the chain T → shoulder → elbow → wrist whose stick-end orientation leaves
  the smallest total gap |shoulder − T| + |upper-arm elbow end − lower-arm elbow end|;
  shoulder = the upper-arm end next to T, elbow = average of the two ends that meet,
  wrist = the far end of the lower arm.

The shoulder is the upper arm's own end, not averaged with T: T is the neck (the torso
stick runs along the body's midline), so an average would put the "shoulder" halfway to
the neck. These rules reproduce the Yang & Ramanan ``labels/*.mat`` joints (neck = their
``hbot``) on 1,494 of 1,496 arms (tests check it); the 2 others are the left arms of
episode-3 frames 52935 and 52950 (arms raised and crossed: the two orientations differ
by < 2% in gap and Y&R chose the other). Simpler rules disagree on folded arms:
the closest pair of arm ends as the elbow on 3 arms, the upper-arm end nearest T as the
shoulder on 2.

Left/right: Buffy's image-left arm is the person's right for the (nearly all) frontal
people, so image-left sticks map to the ``r_`` joints and image-right ones to ``l_``,
matching the person-centric MPII/FLIC convention (left joints at larger x).

Every joint is annotated and visible (the format has no flags). ``center``/``scale``
come from the box of all 12 stick ends (``common.box_center_scale``); ``norm`` is the
torso stick's length. The sticks themselves, which PCP on Buffy is scored on, come from
``parse_sticks`` (per episode file; ``image_name(episode, frame)`` is the record's name).
"""
from __future__ import annotations

import os
import re
from typing import Optional

import numpy as np

from jaxpose import skeleton as skel
from jaxpose.errors import DataError
from jaxpose.data.records import PoseRecord
from jaxpose.data.sources import common

SPLITS = {"train": (3, 4), "test": (2, 5, 6)}
STICKS = ("torso", "left_upper_arm", "right_upper_arm", "left_lower_arm", "right_lower_arm",
          "head")  # file order; left/right as seen in the image
_J = {n: i for i, n in enumerate(skel.UPPER_BODY.joints)}


def sticks_path(root: str, episode: int) -> str:
  return os.path.join(root, "data", f"buffy_s5e{episode}_sticks.txt")


# Every file ``read`` may use, relative to the root.
ANNOTATION_FILES = tuple(sticks_path("", e) for e in sorted(sum(SPLITS.values(), ())))


def image_name(episode: int, frame: int) -> str:
  return f"buffy_s5e{episode}_original/{frame:06d}.jpg"


def parse_sticks(path: str) -> list[tuple[int, np.ndarray]]:
  """(frame, (6, 2, 2) sticks [stick, end, (x, y)]) per frame, 0-based; checks the layout."""
  common.require_file(path, "Buffy sticks")
  try:
    with open(path, encoding="ascii") as f:
      lines = [(n + 1, line.split()) for n, line in enumerate(f) if line.strip()]
  except (OSError, UnicodeDecodeError) as e:  # a damaged file: bytes that are not text
    raise DataError(f"{path}: not a readable sticks text file ({e})") from None
  out = []
  i = 0
  while i < len(lines):
    lineno, tokens = lines[i]
    if len(tokens) != 1 or not re.fullmatch(r"\d+", tokens[0]):
      raise DataError(f"{path}, line {lineno}: expected a frame number, got {' '.join(tokens)!r}")
    frame = int(tokens[0])
    block = lines[i + 1:i + 7]
    if len(block) < 6:
      raise DataError(f"{path}, frame {frame} (line {lineno}): field 'sticks': "
                      f"{len(block)} of 6 stick lines")
    sticks = np.zeros((6, 2, 2))
    for s, (n, toks) in enumerate(block):
      try:
        values = [float(t) for t in toks]
      except ValueError:
        values = []
      if len(values) != 4 or not np.isfinite(values).all():
        raise DataError(f"{path}, frame {frame} (line {n}): field '{STICKS[s]}' must be 4 "
                        f"finite numbers x1 y1 x2 y2, got {' '.join(toks)!r}")
      sticks[s] = np.reshape(values, (2, 2)) - 1.0
    out.append((frame, sticks))
    i += 7
  return out


def _nearest_ends(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
  """Indices (i, j) of the ends of sticks a and b closest to each other."""
  d = np.linalg.norm(a[:, None] - b[None], axis=-1)
  i, j = np.unravel_index(int(np.argmin(d)), d.shape)
  return int(i), int(j)


def sticks_to_joints(sticks: np.ndarray) -> np.ndarray:
  """(8, 2) ``UPPER_BODY`` joints from (6, 2, 2) sticks (rules in the module docstring)."""
  torso, head = sticks[0], sticks[5]
  t, h = _nearest_ends(torso, head)
  top = torso[t]
  joints = np.zeros((8, 2))
  joints[_J["nose"]] = head.mean(axis=0)
  joints[_J["neck"]] = (top + head[h]) / 2
  # Image-left sticks (1 upper, 3 lower) are the person's right; image-right (2, 4) the left.
  for side, upper, lower in (("r", 1, 3), ("l", 2, 4)):
    up, low = sticks[upper], sticks[lower]
    # The arm chain T → shoulder → elbow → wrist with the smallest total gap.
    gaps = [(np.linalg.norm(up[a] - top) + np.linalg.norm(up[1 - a] - low[b]), a, b)
            for a in (0, 1) for b in (0, 1)]
    _, a, b = min(gaps)
    joints[_J[f"{side}_shoulder"]] = up[a]
    joints[_J[f"{side}_elbow"]] = (up[1 - a] + low[b]) / 2
    joints[_J[f"{side}_wrist"]] = low[1 - b]
  return joints


def _record(sticks: np.ndarray, image: str) -> PoseRecord:
  xy = sticks_to_joints(sticks)
  valid = np.ones(len(xy))
  center, scale = common.box_center_scale(sticks.reshape(-1, 2), np.ones(12))
  return PoseRecord(
      image=image, joints=np.concatenate([xy, valid[:, None]], axis=1).astype(np.float32),
      valid=valid.astype(np.float32), center=center, scale=scale,
      norm=float(np.linalg.norm(sticks[0, 0] - sticks[0, 1])))


def read(split: str, root: str, on_error: str = "raise",
         limit: Optional[int] = None) -> list[PoseRecord]:
  """The frames of ``split``, episode by episode in file order."""
  if split not in SPLITS:
    raise DataError(f"buffy: no split {split!r}; splits are {tuple(SPLITS)}")
  sink = common.RecordSink(sticks_path(root, SPLITS[split][0]), skel.UPPER_BODY.num_joints,
                           on_error, limit)
  i = 0
  for episode in SPLITS[split]:
    path = sticks_path(root, episode)
    sink.source = path
    for frame, sticks in parse_sticks(path):
      if sink.full:
        break
      name = image_name(episode, frame)
      sink.add(i, name, lambda s=sticks, n=name: _record(s, os.path.join(root, "images", n)))
      i += 1
  return sink.done(split)
