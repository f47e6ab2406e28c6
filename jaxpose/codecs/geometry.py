"""Crop geometry, the one copy: every codec, the input pipeline, ``crops`` and the cascade use it.

numpy (also jax where it says so) and tensorflow twins side by side; the tf twins end in ``_tf``
and import tensorflow only when called, so ``crops`` / ``predict`` stay tensorflow-free.
Conventions (docs/DESIGN.md, geometry): pixel coordinates (x, y), 0-based, pixel centres at
integers; a record's crop box is the square of side ``200 · scale · scale_pad · scale_factor``
about ``center``, its outer edges on the outer edges of the ``S × S`` crop.

* ``MEAN`` / ``STD``        — ImageNet statistics: the network sees ``(rgb/255 − MEAN) / STD``.
* ``crop_matrix`` / ``crop_matrix_tf`` — the (3, 3) image → crop matrix of one example (the
  augmentation ``params`` composed in), float64 inside; the numpy twin reproduces the tf one
  bit for bit (tests/inference/test_predict.py).
* ``invert`` / ``invert_tf`` — the inverse of a (3, 3) affine, float64 inside.
* ``apply_affine`` / ``apply_affine_tf`` — (..., 2) points through a (..., 2 or 3, 3) affine,
  ``(points, matrix)`` in both.
* ``to_image``              — crop pixels → image pixels through the batch's crop → image
  ``affine`` (numpy / jax), the last step of every family's prediction.
* ``inside``                — the one in-crop test (tf, per example): a joint counts for training
  only where ``0 ≤ x, y ≤ S − 1`` in the crop (pixel centres at integers).
"""
from __future__ import annotations

import math
import sys
from typing import Optional

import numpy as np

# ImageNet statistics; the network sees (rgb/255 - MEAN) / STD (the pipeline, crops, export,
# the cascade's patches and the figures all read these).
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def _xp(*arrays):
  """``jax.numpy`` when any input is a jax array (or tracer), else ``numpy``."""
  jax = sys.modules.get("jax")
  if jax is not None and any(isinstance(a, jax.Array) for a in arrays):
    import jax.numpy as jnp
    return jnp
  return np


# ----------------------------------------------------------------------------- crop matrix

def crop_matrix(center, scale, image_size: int, params: Optional[dict] = None,
                scale_pad: float = 1.25) -> np.ndarray:
  """The (3, 3) float32 image → crop matrix (numpy), ``crop_matrix_tf``'s twin.

  ``params``: the augmentation parameters (``augment.sample``'s keys ``scale_factor``,
  ``rotation``, ``shear``, ``flip``, ``translate``; a missing key or None = identity). The
  inputs are rounded to float32 first (as the pipeline's record fields and tf parameters are),
  the matrix composed in float64 in the same order as the tf code and rounded to float32.
  """
  p = {} if params is None else params
  f32 = lambda v: np.float64(np.float32(v))
  cx, cy = (np.float64(v) for v in np.asarray(center, np.float32).reshape(2))
  scale = f32(np.asarray(scale, np.float32).reshape(()))
  s, shear = f32(p.get("scale_factor", 1.0)), f32(p.get("shear", 0.0))
  theta = f32(p.get("rotation", 0.0)) * (math.pi / 180.0)
  flip = bool(p.get("flip", False))
  size = float(image_size)
  k = size / (200.0 * scale * float(scale_pad) * s)
  cos, sin = np.cos(theta), np.sin(theta)
  a = k * cos
  b = k * (cos * shear + sin)
  c = -k * sin
  d = k * (cos - sin * shear)
  half = (size - 1.0) / 2.0
  shift = np.asarray(p.get("translate", (0.0, 0.0)), np.float32).astype(np.float64) * size
  tx = half - (a * cx + b * cy) - shift[0]
  ty = half - (c * cx + d * cy) - shift[1]
  sign, offset = (-1.0, size - 1.0) if flip else (1.0, 0.0)
  m = np.array([[sign * a, sign * b, sign * tx + offset], [c, d, ty], [0.0, 0.0, 1.0]])
  return m.astype(np.float32)


def crop_matrix_tf(center, scale, image_size: int, params: Optional[dict] = None,
                   scale_pad: float = 1.25, dtype=None):
  """The (3, 3) image → crop matrix of one example (tf; ``dtype`` default float32).

  ``crop = F · T((S-1)/2) · R(rotation) · Shear · (S / side) · T(-center)`` with
  ``side = 200 · scale · scale_pad · scale_factor`` and F the optional flip
  ``x' = S - 1 - x``; ``params["translate"]`` (u_x, u_y) moves the crop window by
  ``u · S`` crop pixels before the flip (the content moves by ``-u · S``); ``params``:
  ``augment.sample``'s keys, a missing key or None = identity (the plain crop). Composed in
  float64 (image coordinates can be in the thousands), returned in ``dtype``.
  """
  import tensorflow as tf
  dtype = tf.float32 if dtype is None else dtype
  p = {} if params is None else params
  f64 = tf.float64
  center = tf.cast(tf.reshape(center, [2]), f64)
  scale = tf.cast(tf.reshape(scale, []), f64)
  s = tf.cast(p.get("scale_factor", 1.0), f64)
  theta = tf.cast(p.get("rotation", 0.0), f64) * (math.pi / 180.0)
  shear = tf.cast(p.get("shear", 0.0), f64)
  flip = tf.cast(p.get("flip", False), tf.bool)
  size = float(image_size)
  k = size / (200.0 * scale * float(scale_pad) * s)
  cos, sin = tf.cos(theta), tf.sin(theta)
  zero, one = tf.zeros([], f64), tf.ones([], f64)
  # Linear part R · Shear · k, R = [[cos, sin], [-sin, cos]] (counter-clockwise on screen).
  a = k * cos
  b = k * (cos * shear + sin)
  c = -k * sin
  d = k * (cos - sin * shear)
  half = (size - 1.0) / 2.0
  shift = tf.cast(p.get("translate", (0.0, 0.0)), f64) * size
  tx = half - (a * center[0] + b * center[1]) - shift[0]
  ty = half - (c * center[0] + d * center[1]) - shift[1]
  sign = tf.where(flip, -one, one)
  offset = tf.where(flip, tf.constant(size - 1.0, f64), zero)
  m = tf.stack([
      tf.stack([sign * a, sign * b, sign * tx + offset]),
      tf.stack([c, d, ty]),
      tf.stack([zero, zero, one]),
  ])
  return tf.cast(m, dtype)


def invert(matrix) -> np.ndarray:
  """Inverse of a (3, 3) affine matrix, computed in float64, float32 (numpy)."""
  return np.linalg.inv(np.asarray(matrix, np.float64)).astype(np.float32)


def invert_tf(matrix, dtype=None):
  """Inverse of a (3, 3) affine matrix, computed in float64, ``dtype`` (tf; default float32)."""
  import tensorflow as tf
  dtype = tf.float32 if dtype is None else dtype
  return tf.cast(tf.linalg.inv(tf.cast(matrix, tf.float64)), dtype)


# ------------------------------------------------------------------------ points through affines

def apply_affine(points, matrix):
  """(..., 2) points through (..., 2 or 3, 3) affines (numpy / jax), in the inputs' precision.

  The matrix's leading axes broadcast against the points' (numpy rules): one matrix for all
  points, or one per point."""
  xp = _xp(points, matrix)
  m = xp.asarray(matrix)
  p = xp.asarray(points)
  return xp.einsum("...ij,...j->...i", m[..., :2, :2], p) + m[..., :2, 2]


def apply_affine_tf(points, matrix):
  """(..., 2) points through one (3, 3) or (2, 3) affine (tf; float64 inside, the points'
  float dtype out, float32 for integer points)."""
  import tensorflow as tf
  points = tf.convert_to_tensor(points)
  m = tf.cast(matrix, tf.float64)
  p = tf.cast(points, tf.float64)
  out = tf.linalg.matvec(m[:2, :2], p) + m[:2, 2]
  return tf.cast(out, points.dtype if points.dtype.is_floating else tf.float32)


def to_image(coords_crop, affine):
  """Crop pixels → image pixels through the crop → image ``affine`` ((..., 2, 3) or (..., 3, 3)).

  ``coords_crop`` (..., K, 2); ``affine`` either one matrix for all or batched with the
  same leading dims as ``coords_crop``'s (..., K) prefix (``apply_affine`` with the joint axis
  added to the affine).
  """
  xp = _xp(coords_crop, affine)
  return apply_affine(coords_crop, xp.asarray(affine)[..., None, :, :])


# --------------------------------------------------------------------------------- in-crop test

def inside(points, image_size: int):
  """(K,) float32 (tf): 1 where ``0 ≤ x ≤ S−1`` and ``0 ≤ y ≤ S−1`` for (K, 2) crop pixels."""
  import tensorflow as tf
  points = tf.cast(points, tf.float32)
  ok = (points >= 0.0) & (points <= float(image_size) - 1.0)
  return tf.cast(tf.reduce_all(ok, axis=-1), tf.float32)
