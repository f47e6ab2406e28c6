"""DeepPose's cascade geometry (Toshev & Szegedy 2014, "DeepPose: Human Pose Estimation via Deep
Neural Networks", §3 and §3.2; summarised by the course report of Chen, Huang & Tseng, §2.3,
"Learning with a series of refining regressors"): the boxes, crops, normalisation and error
model of the refining stages. Pure functions, no parameters; the stage network itself is
``models.regressors.AlexNet`` (``regression=True``), one instance (= one parameter set) per stage.

The cascade (§3, issue #16):

* **Normalisation** (§3): a box ``b = (b_c, b_w, b_h)`` (centre, width, height) defines
  ``N(y; b) = ((x − b_cx) / b_w, (y − b_cy) / b_h)`` (``normalise``) and its inverse
  ``N⁻¹(n; b) = b_c + n · (b_w, b_h)``. The regressors of this library output
  crop-normalised coordinates ``c = (x_crop + 0.5) / S`` ∈ [0, 1] (``codecs.coords``) of a crop
  whose box edges lie on the crop's outer edges (docs/DESIGN.md, geometry); for such a crop
  ``c − 0.5 = N(y; b)`` exactly, i.e. the network's output minus 0.5 *is* DeepPose's normalised
  location, and ``regressors.fc_heads`` already predicts it as an offset from 0.5.
* **Stage 1**: the regressor on the whole person crop (the ordinary ``coords`` family), all K
  joints at once.
* **Stage s ≥ 2** (§3, "cascade of pose regressors"): for every joint i a square box
  ``b_i = (y_i^(s−1), σ·diam(y^(s−1)), σ·diam(y^(s−1)))`` (``stage_boxes``), where ``diam`` is the
  distance between opposite torso joints (``torso_diameter``: the skeleton's ``torso`` pair, left
  shoulder – right hip for LSP/MPII/FLIC). The sub-image is cut from the *full-resolution* image
  (``crop_patches``, bilinear, inside ``jit``), not upsampled from the stage-1 crop. One network
  per stage, shared by all joints: it sees the K patches of a person as K examples and outputs K
  joints for each; for patch i only output i is used (DeepPose's ψ_i). Its output is the joint's
  normalised location in that box, so the displacement from the previous estimate is
  ``ψ_i − 0.5`` in the box frame, ``(ψ_i − 0.5)·side`` in image pixels. ``refine`` maps it back
  through the inverse of the patch affine (``box_affine_inverse``); ``refine_stage`` does boxes →
  patches → network → ``refine`` in one jit-able function.
* **Training** (§3.2): stage s trains on the stage-(s−1) predictions of the training set and on
  simulated ones ``y_i + δ``, δ drawn from the stage-(s−1) error distribution of joint i, a 2-D
  normal with the mean and covariance of the observed errors ``y_i^(s−1) − y_i`` on the training
  set (``error_statistics``, ``cholesky_2x2``; ``jaxpose.data.cascade`` draws the boxes in the
  tf pipeline; the target of patch i is ``N(y_i; b_i) + 0.5``, joint i's normalised crop
  coordinate in its own box). As in §3.2 the training box of an example is
  ``b = (y_i + δ, σ·diam(y))`` — its side comes from the ground-truth pose; at test time from the
  previous stage's prediction.

Choices written down (the paper and the report are silent, or the library fixes them):

* **Box → crop convention** = the library's (``geometry.crop_matrix`` / ``crop_matrix_tf``):
  pixel centres at integers, the box's outer edges on the crop's outer edges, the box centre on
  crop pixel ``((S−1)/2, (S−1)/2)``; image → patch is ``p = (x − c)·S/side + (S−1)/2`` (no
  rotation: DeepPose's boxes are axis-aligned). It equals ``geometry.crop_matrix(center,
  side / (200·scale_pad), S, None, scale_pad)`` (tested).
* **Square boxes, one side per person**: all K boxes of a person share ``σ·diam`` (``sides``
  (B,)); every function here also takes per-box sides (B, K). ``normalise`` also takes
  rectangular ``(w, h)`` sizes, as §3 defines N.
* **Shape rule for sizes**: a size with the same number of axes as ``center`` is ``(w, h)`` per
  box (last axis 2); a size with fewer axes is a square side aligned with the *leading* axes of
  ``center`` (so ``(B,)`` sides fit ``(B, K, 2)`` centres); a scalar fits everything.
* **diam**: the skeleton's ``torso`` pair (PCK's torso: left shoulder – right hip). Where one of
  its two joints is missing (NaN, infinite, or ``valid`` 0) the mirrored diagonal (right shoulder –
  left hip, the pair's images under ``skeleton.flip_permutation``) stands in; NaN when both are
  missing. Inference always has both (predictions), so the fallback matters only for training
  boxes from annotations.
* **Sampling outside the image**: zero (``fill``) per 2×2 neighbour, so a sample less than a pixel
  outside blends with the fill value — tensorflow 2.21's ``ImageProjectiveTransformV3``, which
  ``crops.warp`` reproduces; ``mode="edge"`` clamps instead. ``crop_patches`` does **not**
  antialias: ``crops.warp`` box-downsamples first when one crop pixel covers ≥ 2 image pixels
  (``side / S ≥ 2``); below that the two agree to float32 rounding (tested at ``side/S < 2``).
  DeepPose's sub-images are small boxes (a fraction of the torso times σ) at network resolution,
  so they are normally upsampled; for very large people at small ``S`` the patches alias.
  uint8 images are scaled to [0, 1] (as ``crops.warp``); float images are sampled as given, so
  for mean/std-normalised images ``fill=0`` is the mean colour (pass
  ``fill=(0 − geometry.MEAN)/geometry.STD`` for the pipeline's black border).
* **Error frame** (§3.2): errors are measured in the stage box frame, ``(y^(s−1) − y) / side``
  with ``side`` the caller's per-person length — use the training box side ``σ·diam(y)`` of the
  ground truth, the same in ``error_statistics`` and the pipeline's draw — so the distribution
  transfers across person sizes (the paper does not say whether its displacements are in pixels;
  its regressors live in the normalised frame). Covariance with the ``n − 1`` denominator over the
  valid, finite errors of each joint; a joint without any gets mean 0 and covariance 0 (its
  simulated predictions are the ground truth). Sampling uses the closed-form 2×2 Cholesky factor
  (positive semi-definite covariances, e.g. a zero variance, are fine).
* **refine** returns ``y^(s−1) + (A_i⁻¹(ψ_i) − c_i)`` — DeepPose's update, the previous estimate
  plus the displacement mapped back through the patch affine. With the boxes centred on the
  previous estimate (``stage_boxes``) the offset ``y^(s−1) − c`` is exactly 0 and this is exactly
  ``A_i⁻¹(ψ_i)``.

Layering: a codec (``jaxpose.codecs``), below the models, the data pipeline and inference, which
all use it; the skeleton is used by duck typing (``.torso``, ``.flip_permutation``). Functions
marked numpy / jax take either (``codecs.geometry._xp``: jax when any input is a jax array); ``crop_patches`` and ``refine_stage``
are jax. ``out_size`` is a Python int (static under ``jit``).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from jaxpose.codecs import geometry
from jaxpose.codecs.geometry import _xp


def _side(side, lead_ndim: int, xp):
  """A square side aligned with the leading axes of an array with ``lead_ndim`` leading axes,
  reshaped to broadcast against ``(..., 2)`` points (trailing singleton axes added)."""
  s = xp.asarray(side)
  if s.ndim > lead_ndim:
    raise ValueError(f"side of shape {s.shape} has more axes than the boxes' leading shape "
                     f"({lead_ndim} axes)")
  return s.reshape(s.shape + (1,) * (lead_ndim - s.ndim + 1))


def _size(size, center, xp):
  """``size`` as (..., 1) square sides or (..., 2) widths and heights (module docstring's rule)."""
  c = xp.asarray(center)
  s = xp.asarray(size)
  if s.ndim == c.ndim and c.ndim > 0:
    if s.shape[-1] not in (1, 2):
      raise ValueError(f"size of shape {s.shape} with centre {c.shape}: a (w, h) size needs a "
                       "last axis of 2")
    return s
  return _side(s, c.ndim - 1, xp)


# ------------------------------------------------------------------------- normalisation

def normalise(y, center, size):
  """DeepPose §3's ``N(y; b) = ((x − b_cx)/b_w, (y − b_cy)/b_h)`` (numpy / jax).

  ``y`` (..., 2) image points; ``center`` (..., 2) box centres (broadcast against ``y``);
  ``size``: ``(w, h)`` per box (same axes as ``center``) or a square side (a scalar, or
  ``center``'s leading shape or a prefix of it).
  """
  xp = _xp(y, center, size)
  c = xp.asarray(center)
  return (xp.asarray(y) - c) / _size(size, c, xp)


# --------------------------------------------------------------------------- torso, boxes

def torso_pairs(skeleton) -> tuple[tuple[int, int], ...]:
  """The joint pairs ``torso_diameter`` measures, first choice first.

  ``skeleton``: a ``jaxpose.skeleton.Skeleton`` (its ``torso`` pair, then that pair mirrored by
  ``flip_permutation`` — LSP: (l_shoulder 9, r_hip 2), then (r_shoulder 8, l_hip 3)), or an
  explicit pair ``(a, b)`` or sequence of pairs.
  """
  if hasattr(skeleton, "joints"):
    if skeleton.torso is None:
      raise ValueError(f"skeleton {skeleton.name!r} has no torso pair: DeepPose's diam(y) "
                       "needs opposite torso joints (shoulder and hip)")
    a, b = (int(i) for i in skeleton.torso)
    perm = np.asarray(skeleton.flip_permutation)
    mirror = (int(perm[a]), int(perm[b]))
    pairs = [(a, b)]
    if mirror != (a, b) and mirror != (b, a):
      pairs.append(mirror)
    return tuple(pairs)
  pairs = tuple(skeleton)
  if len(pairs) == 2 and all(isinstance(i, (int, np.integer)) for i in pairs):
    pairs = (pairs,)
  return tuple((int(a), int(b)) for a, b in pairs)


def torso_diameter(joints, skeleton, valid=None):
  """DeepPose's ``diam(y)`` (§3): the distance between opposite torso joints, (...) (numpy / jax).

  ``joints`` (..., K, 2) image pixels; ``skeleton`` as ``torso_pairs`` (first pair, or the next
  where one of its joints is non-finite or has ``valid`` (..., K) = 0); NaN when no pair is
  complete.
  """
  xp = _xp(joints, valid)
  j = xp.asarray(joints)
  if not xp.issubdtype(j.dtype, xp.floating):
    j = j.astype(xp.float32)
  out = xp.full(j.shape[:-2], xp.nan, dtype=j.dtype)
  for a, b in reversed(torso_pairs(skeleton)):
    d = xp.sqrt(xp.sum(xp.square(j[..., a, :] - j[..., b, :]), axis=-1))
    ok = xp.isfinite(d)
    if valid is not None:
      v = xp.asarray(valid)
      ok = ok & (v[..., a] > 0) & (v[..., b] > 0)
    out = xp.where(ok, d, out)
  return out


def torso_diameter_tf(joints, skeleton, valid=None):
  """``torso_diameter`` in tensorflow (the training pipeline's twin, imported when called):
  the same pairs and fallback, ``(..., K, 2)`` joints, ``valid`` (..., K); NaN when no pair is
  complete."""
  import tensorflow as tf
  j = tf.cast(joints, tf.float32)
  out = tf.fill(tf.shape(j)[:-2], float("nan"))
  for a, b in reversed(torso_pairs(skeleton)):
    d = tf.sqrt(tf.reduce_sum(tf.square(j[..., a, :] - j[..., b, :]), axis=-1))
    ok = tf.math.is_finite(d)
    if valid is not None:
      v = tf.cast(valid, tf.float32)
      ok = ok & (v[..., a] > 0) & (v[..., b] > 0)
    out = tf.where(ok, d, out)
  return out


def stage_boxes(joints_prev, skeleton, sigma: float, valid=None):
  """The sub-image boxes of stage s ≥ 2 (§3): ``(centers (..., K, 2), sides (...))``.

  Box i is centred on the previous estimate ``y_i^(s−1)`` with side ``σ·diam(y^(s−1))``, one side
  per person (numpy / jax). ``valid`` as ``torso_diameter`` (for boxes from annotations).
  """
  xp = _xp(joints_prev, valid)
  j = xp.asarray(joints_prev)
  return j, sigma * torso_diameter(j, skeleton, valid)


# -------------------------------------------------------------------------------- affines

def box_affine_inverse(center, side, out_size: int):
  """(..., 3, 3) patch-pixel → image affine of square boxes in closed form (numpy / jax):
  ``x = c + (p − (S−1)/2)·side/S``, the inverse of the box's image → patch map
  ``p = (x − c)·S/side + (S − 1)/2`` (the box's outer edges on the patch's outer edges, its centre
  on ``((S−1)/2, (S−1)/2)``; ``geometry.crop_matrix(center, side / (200·scale_pad), S, None,
  scale_pad)``). ``center`` (..., 2); ``side`` scalar or ``center``'s leading shape (or a prefix
  of it). ``[..., :2, :]`` is the batch ``affine`` convention (crop → image) of
  ``geometry.to_image``; points go through it with ``geometry.apply_affine``."""
  xp = _xp(center, side)
  c = xp.asarray(center)
  step = _side(side, c.ndim - 1, xp)[..., 0] / float(out_size)
  step = xp.broadcast_to(step, c.shape[:-1])
  half = (float(out_size) - 1.0) / 2.0
  zero, one = xp.zeros_like(step), xp.ones_like(step)
  rows = [xp.stack([step, zero, c[..., 0] - half * step], axis=-1),
          xp.stack([zero, step, c[..., 1] - half * step], axis=-1),
          xp.stack([zero, zero, one], axis=-1)]
  return xp.stack(rows, axis=-2)


# ------------------------------------------------------------------------------- patches

def crop_patches(images, centers, sides, out_size: int, *, fill=0.0, mode: str = "constant"):
  """The sub-images of stage s ≥ 2 from the full-resolution images: (B, K, S, S, C) float32 (jax).

  ``images`` (B, H, W, C) (uint8 scaled to [0, 1], float as given); ``centers`` (B, K, 2) image
  pixels; ``sides`` (B,) or (B, K); ``out_size`` = S (static). Patch pixel ``p`` samples the image
  at ``box_affine_inverse(center, side, S) @ p`` bilinearly, the 2×2 neighbours blended in the
  order of ``crops.warp``; ``mode="constant"``: a neighbour outside the image reads ``fill``
  (scalar or (C,)); ``mode="edge"``: the nearest edge pixel. No antialiasing (module docstring).
  Jit-able: one gather per neighbour, no Python loop over boxes.
  """
  import jax.numpy as jnp
  if mode not in ("constant", "edge"):
    raise ValueError(f"crop_patches: mode must be 'constant' or 'edge', got {mode!r}")
  img = jnp.asarray(images)
  img = img.astype(jnp.float32) / 255.0 if img.dtype == jnp.uint8 else img.astype(jnp.float32)
  b, h, w, ch = img.shape
  c = jnp.asarray(centers, jnp.float32)
  size = int(out_size)
  step = jnp.broadcast_to(_side(jnp.asarray(sides, jnp.float32), 2, jnp)[..., 0] / size,
                          c.shape[:-1])
  half = (size - 1.0) / 2.0
  u = jnp.arange(size, dtype=jnp.float32)
  # crop pixel → image point as crops._bilinear: t0·u + t2 with t2 = c − (S−1)/2·step.
  xs = step[..., None] * u + (c[..., 0] - half * step)[..., None]  # (B, K, S)
  ys = step[..., None] * u + (c[..., 1] - half * step)[..., None]
  xs = jnp.where(jnp.isfinite(xs) & (jnp.abs(xs) < 2 ** 30), xs, -2.0)
  ys = jnp.where(jnp.isfinite(ys) & (jnp.abs(ys) < 2 ** 30), ys, -2.0)
  x0, y0 = jnp.floor(xs), jnp.floor(ys)
  ix0, iy0 = x0.astype(jnp.int32), y0.astype(jnp.int32)
  bi = jnp.arange(b)[:, None, None, None]
  fill_v = jnp.broadcast_to(jnp.asarray(fill, jnp.float32), (ch,))

  def read(iy, ix):  # iy (B, K, S), ix (B, K, S) → (B, K, S, S, C)
    yy, xx = iy[..., :, None], ix[..., None, :]
    v = img[bi, jnp.clip(yy, 0, h - 1), jnp.clip(xx, 0, w - 1)]
    if mode == "edge":
      return v
    inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
    return jnp.where(inside[..., None], v, fill_v)

  ax0 = (x0 + 1.0 - xs)[..., None, :, None]
  ax1 = (xs - x0)[..., None, :, None]
  ay0 = (y0 + 1.0 - ys)[..., :, None, None]
  ay1 = (ys - y0)[..., :, None, None]
  top = ax0 * read(iy0, ix0) + ax1 * read(iy0, ix0 + 1)
  bottom = ax0 * read(iy0 + 1, ix0) + ax1 * read(iy0 + 1, ix0 + 1)
  return ay0 * top + ay1 * bottom


# ---------------------------------------------------------------------------------- map back

def _diagonal(patch_coords, ref_ndim: int, xp):
  """(..., K, K, 2) outputs (patch, joint) → (..., K, 2) ψ_i of patch i; (..., K, 2) passes."""
  pc = xp.asarray(patch_coords)
  if pc.ndim == ref_ndim + 1:
    return xp.moveaxis(xp.diagonal(pc, axis1=-3, axis2=-2), -1, -2)
  if pc.ndim != ref_ndim:
    raise ValueError(f"patch coordinates of shape {pc.shape}: expected (..., K, K, 2) network "
                     f"outputs per patch or (..., K, 2) already selected")
  return pc


def refine(prev_joints, patch_coords, centers, sides, out_size: int):
  """Stage-s joints in image pixels from the network's outputs on the stage's patches (§3).

  ``prev_joints`` (..., K, 2) = y^(s−1); ``patch_coords`` (..., K, K, 2) (patch i, joint j;
  normalised crop coordinates ``(p + 0.5)/S``) — only ψ_i = output i of patch i is used — or
  (..., K, 2) already selected; ``centers`` (..., K, 2), ``sides`` (...) or (..., K) the boxes the
  patches were cut from. Returns ``y^(s−1) + (A_i⁻¹(p_i) − c_i)``, p_i = ψ_i·S − 0.5 the patch pixel
  and A_i the box affine: the previous estimate plus the displacement ``(ψ_i − 0.5)·side``
  (= ``N⁻¹(ψ_i − 0.5; b_i) − c_i = c_i + (ψ_i − 0.5)·side − c_i``). With ``centers =
  prev_joints`` it is exactly ``A_i⁻¹(p_i)`` (numpy / jax).
  """
  xp = _xp(prev_joints, patch_coords, centers, sides)
  prev = xp.asarray(prev_joints)
  c = xp.asarray(centers)
  psi = _diagonal(patch_coords, prev.ndim, xp)
  pixels = psi * float(out_size) - 0.5  # codecs.coords.decode
  image = geometry.apply_affine(pixels, box_affine_inverse(c, sides, out_size))
  return image + (prev - c)


# --------------------------------------------------------------------------- error model

def error_statistics(pred, gt, valid=None, sides=1.0):
  """Per-joint mean (K, 2) and covariance (K, 2, 2) of the normalised stage-(s−1) errors (§3.2).

  ``pred`` (previous-stage predictions) and ``gt`` (..., K, 2) image pixels; ``valid`` (..., K)
  (None = all; non-finite errors never count); ``sides`` a scalar, (...) or (..., K): the
  per-person length the errors are divided by, ``e = (pred − gt) / side`` — pass the training box
  side ``σ·diam(gt)`` and the same to ``sample_simulated``. Covariance with the ``n − 1``
  denominator; a joint with no valid error gets mean 0 and covariance 0 (numpy / jax).
  """
  xp = _xp(pred, gt, valid, sides)
  p, g = xp.asarray(pred), xp.asarray(gt)
  e = (p - g) / _side(sides, g.ndim - 1, xp)
  e = e.reshape((-1,) + e.shape[-2:])  # (N, K, 2)
  ok = xp.all(xp.isfinite(e), axis=-1)
  if valid is not None:
    ok = ok & (xp.asarray(valid).reshape(ok.shape) > 0)
  wgt = ok.astype(e.dtype)[..., None]
  e = xp.where(ok[..., None], e, 0.0)
  n = xp.sum(wgt, axis=0)  # (K, 1)
  mean = xp.sum(wgt * e, axis=0) / xp.maximum(n, 1.0)
  d = (e - mean) * wgt
  cov = xp.einsum("nki,nkj->kij", d, d) / xp.maximum(n - 1.0, 1.0)[..., None]
  return mean, cov


def cholesky_2x2(cov, xp=np):
  """Lower-triangular L with L Lᵀ = cov for (..., 2, 2) symmetric PSD matrices (closed form;
  negative pivots clipped to 0, so singular covariances give a valid factor)."""
  a = cov[..., 0, 0]
  b = 0.5 * (cov[..., 1, 0] + cov[..., 0, 1])
  c = cov[..., 1, 1]
  l11 = xp.sqrt(xp.maximum(a, 0.0))
  l21 = xp.where(l11 > 0, b / xp.where(l11 > 0, l11, 1.0), 0.0)
  l22 = xp.sqrt(xp.maximum(c - l21 * l21, 0.0))
  zero = xp.zeros_like(l11)
  return xp.stack([xp.stack([l11, zero], -1), xp.stack([l21, l22], -1)], -2)


# ------------------------------------------------------------------------------ one stage

def refine_stage(apply_fn: Callable[[Any], Any], images, joints_prev, skeleton, sigma: float,
                 out_size: int, *, fill=0.0, mode: str = "constant"):
  """One refining stage at inference (§3), jit-able: boxes → patches → network → ``refine``.

  ``apply_fn`` maps (B·K, S, S, C) patches to (B·K, K, 2) normalised coordinates (e.g.
  ``lambda x: stage.apply(variables, x)["coords"][-1]``); ``images`` (B, H, W, C) full resolution
  (already normalised the way the network expects; ``fill``/``mode`` as ``crop_patches``);
  ``joints_prev`` (B, K, 2) image pixels. Returns ``(joints (B, K, 2), centers, sides)``.
  """
  import jax.numpy as jnp
  prev = jnp.asarray(joints_prev, jnp.float32)
  centers, sides = stage_boxes(prev, skeleton, sigma)
  patches = crop_patches(images, centers, sides, out_size, fill=fill, mode=mode)
  b, k = patches.shape[:2]
  out = apply_fn(patches.reshape((b * k,) + patches.shape[2:]))
  out = jnp.asarray(out).reshape(b, k, -1, 2)
  return refine(prev, out, centers, sides, out_size), centers, sides


__all__: Sequence[str] = [
    "box_affine_inverse", "crop_patches", "cholesky_2x2", "error_statistics", "normalise",
    "refine", "refine_stage",
    "stage_boxes", "torso_diameter", "torso_diameter_tf", "torso_pairs",
]
