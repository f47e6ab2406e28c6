"""Gaussian heatmap targets (Tompson et al. 2014; Newell et al. 2016 §3.4) and their decoding.

Coordinates: crop pixel x and heatmap coordinate u are related by
``u = (x + 0.5) · heatmap_size / image_size - 0.5`` (pixel centres at integers at both
resolutions, the outer edges of the two grids coincide). Under this convention a
horizontal flip of the crop, ``x' = S - 1 - x``, is exactly the mirror ``u' = h - 1 - u``
of the heatmap, so ``flip_back`` needs no one-pixel shift.

Encoders (``encode``, ``encode_pyramid``) are tf, per example, for ``tf.data``. Decoders
(``decode``, ``to_crop``, ``to_image``, ``flip_back``, ``merge_flip``) take numpy arrays
or jax arrays (also under ``jit``) and return the same kind.
"""
from __future__ import annotations

import sys
from typing import Sequence, Union

import numpy as np


def _xp(*arrays):
  """``jax.numpy`` when any input is a jax array (or tracer), else ``numpy``."""
  jax = sys.modules.get("jax")
  if jax is not None and any(isinstance(a, jax.Array) for a in arrays):
    import jax.numpy as jnp
    return jnp
  return np


# ----------------------------------------------------------------------------- encode (tf)

def _render(joints_crop, weight, image_size: int, size: int, sigma: float):
  """(size, size, K) unnormalised Gaussians (peak 1) at the sub-pixel joint positions."""
  import tensorflow as tf
  joints_crop = tf.cast(joints_crop, tf.float32)
  u = (joints_crop + 0.5) * (float(size) / float(image_size)) - 0.5  # (K, 2)
  grid = tf.range(size, dtype=tf.float32)
  inv = 1.0 / (2.0 * float(sigma) ** 2)
  gx = tf.exp(-tf.square(grid[:, None] - u[None, :, 0]) * inv)  # (w, K)
  gy = tf.exp(-tf.square(grid[:, None] - u[None, :, 1]) * inv)  # (h, K)
  return gy[:, None, :] * gx[None, :, :] * tf.cast(weight, tf.float32)[None, None, :]


def target_weight(joints_crop, weight, image_size: int):
  """(K,) float32: ``weight`` (e.g. ``valid``) × joint inside the crop [0, S-1]²."""
  import tensorflow as tf
  joints_crop = tf.cast(joints_crop, tf.float32)
  inside = tf.reduce_all((joints_crop >= 0.0) & (joints_crop <= float(image_size) - 1.0), axis=-1)
  return tf.cast(weight, tf.float32) * tf.cast(inside, tf.float32)


def encode(joints_crop, weight, image_size: int, heatmap_size: int, sigma: float = 1.0):
  """Gaussian heatmaps of one example (tf).

  Args:
    joints_crop: (K, 2) joint positions in crop pixels.
    weight: (K,) 1 for usable joints (``valid``; in-crop is checked here too).
    image_size: crop side S.
    heatmap_size: heatmap side h (square).
    sigma: Gaussian std in heatmap pixels.

  Returns:
    ``heatmaps`` (h, h, K) float32 — ``exp(-d² / 2σ²)`` around the *sub-pixel* joint
    position (the mean is not rounded, so decoding recovers sub-pixel joints), all zero
    where the target weight is 0 — and ``target_weight`` (K,) float32 = weight × inside.
  """
  tw = target_weight(joints_crop, weight, image_size)
  return _render(joints_crop, tw, image_size, int(heatmap_size), sigma), tw


def encode_pyramid(joints_crop, weight, image_size: int, heatmap_size: int,
                   sigma: Union[float, Sequence[float]] = 1.0, levels: int = 4):
  """Heatmap pyramid (GT, GT/2, GT/4, GT/8 for ``levels=4``) of one example (tf).

  Level i is rendered directly at side ``heatmap_size // 2**i`` (with that level's own
  coordinate mapping), with ``sigma`` in that level's own pixels — not by pooling GT:
  a peak rendered at GT/8 stays a well-formed Gaussian, where pooling a sigma-1 map 8×
  would smear it into a blocky, low-peaked blob. ``sigma`` may be a tuple, one per level.
  Returns a tuple of (h_i, h_i, K) float32 maps, all zero where the target weight is 0.
  """
  sigmas = tuple(sigma) if isinstance(sigma, (tuple, list)) else (float(sigma),) * levels
  if len(sigmas) != levels:
    raise ValueError(f"encode_pyramid: {len(sigmas)} sigmas for {levels} levels")
  tw = target_weight(joints_crop, weight, image_size)
  out = []
  for i in range(levels):
    size = int(heatmap_size) // (2 ** i)
    if size < 1:
      raise ValueError(f"encode_pyramid: heatmap_size {heatmap_size} too small for {levels} levels")
    out.append(_render(joints_crop, tw, image_size, size, sigmas[i]))
  return tuple(out)


# ------------------------------------------------------------------- decode (numpy / jax)

def decode(heatmaps):
  """Argmax decoding with the quarter-pixel shift (Newell et al. 2016 code).

  Args:
    heatmaps: (..., h, w, K) numpy or jax array.

  Returns:
    ``coords`` (..., K, 2) float32 (x, y) in heatmap pixels and ``maxvals`` (..., K).
    Each coordinate moves 0.25 px towards its higher neighbour (``+0.25 ·
    sign(right - left)``, same for y) when both neighbours exist. A map with no positive
    value decodes to its argmax (index 0 for an all-zero map) with its maxval (≤ 0);
    callers should treat ``maxvals <= 0`` as "no detection".
  """
  xp = _xp(heatmaps)
  hm = xp.asarray(heatmaps, dtype=xp.float32)
  *lead, h, w, k = hm.shape
  flat = xp.moveaxis(hm.reshape(*lead, h * w, k), -1, -2)  # (..., K, h*w)
  idx = xp.argmax(flat, axis=-1)  # (..., K)
  maxvals = xp.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
  px, py = idx % w, idx // w

  def at(ix, iy):
    ix = xp.clip(ix, 0, w - 1)
    iy = xp.clip(iy, 0, h - 1)
    return xp.take_along_axis(flat, (iy * w + ix)[..., None], axis=-1)[..., 0]

  dx = xp.where((px > 0) & (px < w - 1), xp.sign(at(px + 1, py) - at(px - 1, py)), 0.0)
  dy = xp.where((py > 0) & (py < h - 1), xp.sign(at(px, py + 1) - at(px, py - 1)), 0.0)
  coords = xp.stack([px.astype(xp.float32) + 0.25 * dx, py.astype(xp.float32) + 0.25 * dy], axis=-1)
  return coords.astype(xp.float32), maxvals


def to_crop(coords_hm, image_size: int, heatmap_size: int):
  """Heatmap pixels → crop pixels: ``x = (u + 0.5) · S / h - 0.5``."""
  xp = _xp(coords_hm)
  c = xp.asarray(coords_hm)
  return (c + 0.5) * (float(image_size) / float(heatmap_size)) - 0.5


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


def flip_back(heatmaps, perm):
  """Undoes a horizontal flip of the input on (..., h, w, K) heatmaps.

  Mirrors the width axis and permutes the joint channels with the skeleton's
  ``flip_permutation`` (an involution), so the maps of a flipped image line up with
  those of the original. Works on numpy and jax arrays.
  """
  xp = _xp(heatmaps)
  hm = xp.asarray(heatmaps)
  return hm[..., ::-1, :][..., np.asarray(perm)]


def merge_flip(heatmaps, heatmaps_flipped, perm):
  """Flip test: the mean of the maps of the image and the flipped-back maps of its mirror."""
  return 0.5 * (heatmaps + flip_back(heatmaps_flipped, perm))


def decode_to_image(heatmaps, image_size: int, affine):
  """``decode`` → ``to_crop`` → ``to_image``: (..., K, 2) image pixels and (..., K) maxvals."""
  coords, maxvals = decode(heatmaps)
  h = heatmaps.shape[-3]
  return to_image(to_crop(coords, image_size, h), affine), maxvals
