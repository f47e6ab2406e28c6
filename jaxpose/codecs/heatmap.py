"""Gaussian heatmap targets (Tompson et al. 2014; Newell et al. 2016 §3.4) and their decoding.

Coordinates: crop pixel x and heatmap coordinate u are related by
``u = (x + 0.5) · heatmap_size / image_size - 0.5`` (pixel centres at integers at both
resolutions, the outer edges of the two grids coincide). Under this convention a
horizontal flip of the crop, ``x' = S - 1 - x``, is exactly the mirror ``u' = h - 1 - u``
of the heatmap, so ``flip_back`` needs no one-pixel shift.

Encoders (``encode``, ``encode_pyramid``) are tf, per example, for ``tf.data``. Decoders
(``decode``, ``decode_dark``, ``to_crop``, ``flip_back``, ``merge_flip``) and the multi-scale
test's resampling (``from_scale``, ``merge_scales``) take numpy arrays or jax arrays (also
under ``jit``) and return the same kind.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence, Union

import numpy as np

from jaxpose.codecs.geometry import _xp, inside


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
  """(K,) float32: ``weight`` (e.g. ``valid``) × joint inside the crop (``geometry.inside``)."""
  import tensorflow as tf
  return tf.cast(weight, tf.float32) * inside(joints_crop, image_size)


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


SUBPIXEL = ("quarter", "dark")
"""The sub-pixel steps ``decode`` knows: Newell et al.'s quarter-pixel shift, and DARK's
Taylor step on the blurred log-map (Zhang et al., CVPR 2020)."""


def blur_matrix(size: int, sigma: float):
  """(size, size) float32 Gaussian blur along one axis with zero padding, as DARK's
  ``gaussian_blur`` (the map padded with zeros, then ``cv2.GaussianBlur`` with an odd kernel):
  weights ``exp(-d² / 2σ²)`` normalised over the whole kernel, kernel radius
  ``round((σ - 0.8) / 0.3 + 1)`` — the size whose OpenCV default σ is this σ (11 for DARK's
  σ = 2, 5 for σ = 1)."""
  radius = max(1, int(round((float(sigma) - 0.8) / 0.3 + 1.0)))
  taps = np.exp(-np.arange(-radius, radius + 1, dtype=np.float64) ** 2 / (2.0 * float(sigma) ** 2))
  taps /= taps.sum()
  d = np.arange(size)[:, None] - np.arange(size)[None, :]
  m = np.where(np.abs(d) <= radius, taps[np.clip(d + radius, 0, 2 * radius)], 0.0)
  return m.astype(np.float32)


def _separable(maps, my, mx):
  """``my @ maps @ mxᵀ`` on the (h, w) axes of (..., h, w, K) float32 maps (numpy or jax): a
  separable linear filter, one (h, h) and one (w, w) matrix."""
  xp = _xp(maps)
  if xp is np:
    kw = {"optimize": True}
  else:  # exact float32 products also on accelerators that default to reduced precision
    import jax
    kw = {"precision": jax.lax.Precision.HIGHEST}
  out = xp.einsum("yi,...ixk->...yxk", my, maps, **kw)
  return xp.einsum("xj,...yjk->...yxk", mx, out, **kw)


def decode_dark(heatmaps, sigma: float = 1.0):
  """Argmax decoding with DARK's sub-pixel step (Zhang et al., "Distribution-Aware Coordinate
  Representation for Human Pose Estimation", CVPR 2020, §3.1–3.2, eq. 3–9).

  The integer argmax and its value are those of ``decode``. The map is then blurred with a
  Gaussian of the training ``sigma`` (§3.2, "distribution modulation"; ``blur_matrix``), its
  log taken (values clamped to 1e-10 as in the authors' code), and the peak moved by the
  Newton step ``-H⁻¹ ∇`` of the second-order Taylor expansion there (eq. 7–9), with DARK's finite
  differences (first derivatives from the neighbours, second from the pixels two away). The
  authors' code rescales the blurred map to the original peak first; that is a constant
  added to the log-map and changes no derivative, so it is left out. Where DARK does not apply
  the quarter-pixel shift of ``decode`` is kept: within two pixels of the edge; where the nine
  blurred values the step reads are not all above 1 % of the blurred peak (a Gaussian peak of
  the training σ keeps them above e⁻¹ of it; below, the map is near zero, and the log of a few
  float32 roundings would decide the step — it would differ between numpy, XLA and an
  exported program); where the Hessian is not that of a maximum (det ≤ 0 or ``∂²/∂x² ≥ 0``;
  the authors only test det ≠ 0); or where the step leaves the argmax's pixel by more than
  one pixel (the quadratic does not describe the peak). Same arguments and results as
  ``decode``.
  """
  xp = _xp(heatmaps)
  hm = xp.asarray(heatmaps, dtype=xp.float32)
  coords, maxvals = decode(hm)
  *lead, h, w, k = hm.shape
  blurred = _separable(hm, blur_matrix(h, sigma), blur_matrix(w, sigma))
  flat = xp.moveaxis(blurred.reshape(*lead, h * w, k), -1, -2)  # (..., K, h*w)
  q = xp.round(coords).astype(xp.int32)  # the integer argmax (the quarter shift rounds away)
  px, py = q[..., 0], q[..., 1]
  taps = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (2, 0), (-2, 0), (0, 2), (0, -2),
          (1, 1), (1, -1), (-1, 1), (-1, -1))
  lin = {}
  for dx, dy in taps:
    ix = xp.clip(px + dx, 0, w - 1)
    iy = xp.clip(py + dy, 0, h - 1)
    lin[dx, dy] = xp.take_along_axis(flat, (iy * w + ix)[..., None], axis=-1)[..., 0]
  peak = lin[0, 0]
  strong = peak > 0
  for v in lin.values():
    strong = strong & (v >= 0.01 * peak)
  at = {t: xp.log(xp.maximum(v, 1e-10)) for t, v in lin.items()}
  c = at[0, 0]
  gx = 0.5 * (at[1, 0] - at[-1, 0])
  gy = 0.5 * (at[0, 1] - at[0, -1])
  hxx = 0.25 * (at[2, 0] - 2.0 * c + at[-2, 0])
  hyy = 0.25 * (at[0, 2] - 2.0 * c + at[0, -2])
  hxy = 0.25 * (at[1, 1] - at[1, -1] - at[-1, 1] + at[-1, -1])
  det = hxx * hyy - hxy * hxy
  ok = (px > 1) & (px < w - 2) & (py > 1) & (py < h - 2) & strong & (det > 0) & (hxx < 0)
  safe = xp.where(ok, det, 1.0)
  ox = -(hyy * gx - hxy * gy) / safe
  oy = -(hxx * gy - hxy * gx) / safe
  ok = ok & (xp.abs(ox) <= 1.0) & (xp.abs(oy) <= 1.0)
  dark = xp.stack([px.astype(xp.float32) + ox, py.astype(xp.float32) + oy], axis=-1)
  return xp.where(ok[..., None], dark, coords).astype(xp.float32), maxvals


def to_crop(coords_hm, image_size: int, heatmap_size: int):
  """Heatmap pixels → crop pixels: ``x = (u + 0.5) · S / h - 0.5``."""
  xp = _xp(coords_hm)
  c = xp.asarray(coords_hm)
  return (c + 0.5) * (float(image_size) / float(heatmap_size)) - 0.5


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


# --------------------------------------------------------- multi-scale test (numpy / jax)
#
# Testing on an image pyramid (Tang & Wu 2019 §4.2, following Yang et al. 2017 [50]): the
# person is cropped at several box sizes, each crop's heat maps are brought into the frame
# of the scale-1 crop's heat map and averaged there, then decoded as usual.

PYRAMID_SCALES = (0.8, 0.9, 1.0, 1.1, 1.2, 1.3)
"""The six scales of the pyramid test: ``torch.range(0.8, 1.3, 0.1)`` in ``evalPyra.lua`` of
Yang et al.'s PyraNet code (github.com/bearpaw/PyraNet; [50] in Tang & Wu 2019) and in
``multiscale_predict.lua`` of the DLCM code of Tang et al. 2018 ([38]; seen in its fork
idotc/DLMSCM). There each factor multiplies the person box (``scale * 410/256 *
scaleFactor``, datasets/mpii-lsp.lua), as here: s > 1 widens the box, the person looks
smaller — the sign of ``augment``'s ``scale_factor``."""


def check_scales(scales) -> tuple:
  """``scales`` as a tuple of floats; raises ``ValueError`` unless it is a non-empty
  sequence of finite numbers > 0."""
  if isinstance(scales, (str, bytes)) or not hasattr(scales, "__iter__"):
    raise ValueError(f"test scales must be a sequence of numbers, got {scales!r}")
  scales = list(scales)
  given = ",".join(str(s) for s in scales)
  out = []
  for s in scales:
    try:
      v = float(s)
    except (TypeError, ValueError):
      raise ValueError(f"test scale {s!r} is not a number (scales {given})") from None
    if not np.isfinite(v) or v <= 0:
      raise ValueError(f"test scale {s!r} must be a finite number > 0 (scales {given})")
    out.append(v)
  if not out:
    raise ValueError("test scales are empty; give at least one (1.0 = the plain crop)")
  return tuple(out)


def scale_matrix(size: int, scale: float) -> tuple:
  """Resampling along one heat-map axis from the scale-``s`` crop into the scale-1 frame.

  Both crops share the box centre, which sits at ``c = (size - 1) / 2`` at heat-map
  resolution (the crop centre ``(S - 1) / 2`` maps there), and the scale-``s`` box is ``s``
  times wider, so one image point has ``u1 - c = s · (us - c)``. Common pixel ``u1`` is
  therefore read at ``us = c + (u1 - c) / s``, linearly between the two nearest pixel
  centres; within half a pixel of the edge the edge value is held (the outer pixel edges
  are the map's extent, as everywhere in this codec), and beyond it the scale-``s`` crop
  saw nothing.

  Returns ``(matrix, inside)``: ``matrix`` (size, size) float32 with ``out = matrix @ in``
  along the axis (rows of points outside are zero), ``inside`` (size,) float32 0/1 — which
  common pixels the scale-``s`` map covers.
  """
  c = (size - 1) / 2.0
  u = c + (np.arange(size, dtype=np.float64) - c) / float(scale)
  inside = (u >= -0.5) & (u <= size - 0.5)
  t = np.clip(u, 0.0, size - 1.0)
  i0 = np.minimum(np.floor(t).astype(np.int64), max(size - 2, 0))
  frac = t - i0
  m = np.zeros((size, size), np.float64)
  rows = np.arange(size)
  m[rows, i0] = 1.0 - frac
  if size > 1:
    m[rows, np.minimum(i0 + 1, size - 1)] += frac
  m[~inside] = 0.0
  return m.astype(np.float32), inside.astype(np.float32)


def from_scale(heatmaps, scale: float):
  """(..., h, w, K) heat maps of the scale-``s`` crop → the scale-1 crop's heat-map frame.

  Separable linear resampling through ``scale_matrix`` on both axes. Returns the maps
  (zero where the scale-``s`` crop saw nothing) and the (h, w) 0/1 coverage.
  """
  xp = _xp(heatmaps)
  hm = xp.asarray(heatmaps, dtype=xp.float32)
  h, w = hm.shape[-3], hm.shape[-2]
  my, in_y = scale_matrix(h, scale)
  mx, in_x = scale_matrix(w, scale)
  return _separable(hm, my, mx), np.outer(in_y, in_x)


def merge_scales(heatmaps_per_scale, scales):
  """Averages the maps of every scale in the scale-1 frame (``from_scale``).

  Each pixel is the mean over the scales whose crop covered it: a scale < 1 (a tighter
  box) sees nothing near the border of the scale-1 crop, and counting it there as zero
  would pull border joints down against the rest of the map. Where every scale covers
  a pixel this is the plain mean of [50]. Returns (..., h, w, K) of the first map's kind.
  """
  scales = check_scales(scales)
  if len(heatmaps_per_scale) != len(scales):
    raise ValueError(f"{len(heatmaps_per_scale)} heat maps for {len(scales)} scales")
  total, count = None, 0.0
  for hm, s in zip(heatmaps_per_scale, scales):
    out, cover = from_scale(hm, s)
    total = out if total is None else total + out
    count = count + cover
  return total / np.maximum(count, 1.0)[:, :, None]


@dataclasses.dataclass(frozen=True)
class HeatmapCodec:
  """The heat-map geometry of one config, built once (``from_config``): crop side, map side,
  Gaussian sigma and pyramid depth, so call sites stop passing them again."""
  image_size: int
  heatmap_size: int
  sigma: float = 1.0
  pyramid_levels: int = 4
  subpixel: str = "quarter"

  def __post_init__(self):
    if self.subpixel not in SUBPIXEL:
      raise ValueError(f"unknown sub-pixel step {self.subpixel!r}; known: {', '.join(SUBPIXEL)}")

  @classmethod
  def from_config(cls, data_cfg, subpixel: str = "quarter") -> "HeatmapCodec":
    return cls(int(data_cfg.image_size), int(data_cfg.heatmap_size), float(data_cfg.sigma),
               int(data_cfg.get("pyramid_levels", 4)), subpixel)

  def encode(self, joints_crop, weight):
    """(h, h, K) maps and the (K,) target weight of one example (tf); see ``encode``."""
    return encode(joints_crop, weight, self.image_size, self.heatmap_size, self.sigma)

  def encode_pyramid(self, joints_crop, weight) -> tuple:
    return encode_pyramid(joints_crop, weight, self.image_size, self.heatmap_size, self.sigma,
                          levels=self.pyramid_levels)

  def decode(self, heatmaps):
    """(..., h, w, K) maps → (..., K, 2) crop pixels and (..., K) peak values."""
    if self.subpixel == "dark":
      uv, maxvals = decode_dark(heatmaps, self.sigma)
    else:
      uv, maxvals = decode(heatmaps)
    return to_crop(uv, self.image_size, heatmaps.shape[-3]), maxvals
