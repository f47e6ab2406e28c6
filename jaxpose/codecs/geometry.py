"""Crop geometry shared by every codec and the input pipeline.

* ``inside``   — the one in-crop test (tf, per example): a joint counts for training only
                 where ``0 ≤ x, y ≤ S − 1`` in the crop (pixel centres at integers).
* ``to_image`` — crop pixels → image pixels through the pipeline's crop → image ``affine``
                 (numpy / jax), the last step of every family's prediction.
"""
from __future__ import annotations

import sys


def _xp(*arrays):
  """``jax.numpy`` when any input is a jax array (or tracer), else ``numpy``."""
  import numpy as np
  jax = sys.modules.get("jax")
  if jax is not None and any(isinstance(a, jax.Array) for a in arrays):
    import jax.numpy as jnp
    return jnp
  return np


def inside(points, image_size: int):
  """(K,) float32 (tf): 1 where ``0 ≤ x ≤ S−1`` and ``0 ≤ y ≤ S−1`` for (K, 2) crop pixels."""
  import tensorflow as tf
  points = tf.cast(points, tf.float32)
  ok = (points >= 0.0) & (points <= float(image_size) - 1.0)
  return tf.cast(tf.reduce_all(ok, axis=-1), tf.float32)


def to_image(coords_crop, affine):
  """Crop pixels → image pixels through the crop → image ``affine`` ((..., 2, 3) or (..., 3, 3)).

  ``coords_crop`` (..., K, 2); ``affine`` either one matrix for all or batched with the
  same leading dims as ``coords_crop``'s (..., K) prefix.
  """
  xp = _xp(coords_crop, affine)
  c = xp.asarray(coords_crop)
  a = xp.asarray(affine)[..., :2, :]
  lin, t = a[..., :2], a[..., 2]
  return xp.einsum("...ij,...kj->...ki", lin, c) + t[..., None, :]
