"""Sliding-window body-part indicator maps, Li et al. 2014 §3.2, eq. (2).

Li, Liu & Chan, "Heterogeneous Multi-task Learning for Human Pose Estimation with Deep
Convolutional Neural Network" (CVPR-W 2014). Each part p is a stick between two joints;
L windows of equal size are spread uniformly over the person's bounding box (the crop),
and window l contains part p when the piece of the stick inside the window is longer
than β times the stick (eq. 2):

    y_{p,l} = 1  if  len(window_l ∩ stick_p) > β · len(stick_p),  else 0.

The paper (§4) uses 64 windows of 30 × 30 pixels (an 8 × 8 grid) on the 112 × 112 crop and
β = 0.3; these are the defaults. Parts may share windows and a part may fill several.

Frames: ``window_boxes`` returns boxes in the crop's continuous *edge* frame, where the
crop covers [0, S] (the left edge of pixel 0 is 0, the right edge of pixel S-1 is S), so
the first window starts at 0 and the last ends at S as in the paper. ``encode`` takes
joints in our pixel-centre crop coordinates and shifts them by +0.5 into that frame.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def window_boxes(crop_size: int = 112, window: float = 30, grid: int = 8,
                 image_size: Optional[int] = None) -> np.ndarray:
  """(grid², 4) float32 windows x1, y1, x2, y2, row-major (l = row · grid + col).

  Window origins are ``linspace(0, crop_size - window, grid)`` along each axis, so the
  first starts at 0 and the last ends at ``crop_size`` (30-px windows on 112 px step by
  82/7 ≈ 11.7 px and overlap). ``image_size``: the side of the crop actually fed to the
  model, when it is not ``crop_size``; the layout is defined on ``crop_size`` and scaled
  by ``image_size / crop_size``.
  """
  if window > crop_size:
    raise ValueError(f"window {window} larger than crop {crop_size}")
  starts = np.linspace(0.0, float(crop_size) - float(window), int(grid))
  y1, x1 = np.meshgrid(starts, starts, indexing="ij")
  x1, y1 = x1.reshape(-1), y1.reshape(-1)
  boxes = np.stack([x1, y1, x1 + window, y1 + window], axis=-1)
  if image_size is not None:
    boxes = boxes * (float(image_size) / float(crop_size))
  return boxes.astype(np.float32)


def _pairs(parts) -> np.ndarray:
  """(P, 2) int32 joint indices from (a, b) pairs or (name, a, b) triples."""
  rows = [tuple(p)[-2:] for p in parts]
  return np.asarray(rows, np.int32).reshape(-1, 2)


def fractions(joints_crop, parts, boxes):
  """(P, L) float32: fraction of each stick's length inside each window (tf).

  Segment/box clipping by Liang–Barsky, vectorised over parts × windows: the stick
  ``p0 + t (p1 - p0)``, t ∈ [0, 1], is clipped against the four box edges and the
  fraction inside is ``max(0, t_exit - t_enter)``. Zero-length sticks give 0.
  """
  import tensorflow as tf
  idx = _pairs(parts)
  joints = tf.cast(joints_crop, tf.float32)[:, :2] + 0.5  # pixel-centre → edge frame
  p0 = tf.gather(joints, idx[:, 0])  # (P, 2)
  p1 = tf.gather(joints, idx[:, 1])
  d = p1 - p0
  boxes = tf.cast(boxes, tf.float32)
  x0, y0 = p0[:, 0:1], p0[:, 1:2]  # (P, 1)
  dx, dy = d[:, 0:1], d[:, 1:2]
  xmin, ymin, xmax, ymax = (boxes[None, :, i] for i in range(4))  # (1, L)

  t_in = tf.zeros_like(x0 * xmin)
  t_out = tf.ones_like(t_in)
  reject = tf.zeros_like(t_in, tf.bool)
  for p, q in ((-dx, x0 - xmin), (dx, xmax - x0), (-dy, y0 - ymin), (dy, ymax - y0)):
    p = tf.broadcast_to(p, tf.shape(t_in))
    q = tf.broadcast_to(q, tf.shape(t_in))
    zero = tf.equal(p, 0.0)
    r = q / tf.where(zero, tf.ones_like(p), p)
    t_in = tf.where(p < 0.0, tf.maximum(t_in, r), t_in)
    t_out = tf.where(p > 0.0, tf.minimum(t_out, r), t_out)
    reject = reject | (zero & (q < 0.0))
  frac = tf.maximum(t_out - t_in, 0.0)
  length = tf.norm(d, axis=-1, keepdims=True)  # (P, 1)
  return tf.where(reject | (length <= 0.0), tf.zeros_like(frac), frac)


def encode(joints_crop, valid, parts: Sequence, boxes, beta: float = 0.3):
  """Part indicator maps y_{p,l} of one example, eq. (2) (tf).

  Args:
    joints_crop: (K, 2) (or (K, 3)) joints in crop pixels.
    valid: (K,) 1 where the joint is annotated; a stick with an invalid end is all 0.
    parts: sequence of (a, b) joint-index pairs or (name, a, b) triples (e.g.
      ``skeleton.UPPER_BODY.parts``).
    boxes: (L, 4) windows from ``window_boxes`` (in the same crop size as the joints).
    beta: threshold on the fraction of the stick inside a window (0.3 in the paper).

  Returns:
    (P, L) float32 binary: 1 where ``len(window_l ∩ stick_p) > beta · len(stick_p)``.
  """
  import tensorflow as tf
  idx = _pairs(parts)
  frac = fractions(joints_crop, idx, boxes)
  valid = tf.cast(valid, tf.float32)
  ok = tf.gather(valid, idx[:, 0]) * tf.gather(valid, idx[:, 1])  # (P,)
  return tf.cast(frac > float(beta), tf.float32) * ok[:, None]
