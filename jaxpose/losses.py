"""Losses: pure jax functions of predictions and targets.

The families (``jaxpose.families``) name their terms and say which of these functions each
uses: heat-map MSE over every stack (intermediate supervision, Newell et al. 2016 §3.4; Tang &
Wu 2019 §3.3; Wei et al. 2016 §3.3 eq. 4–5, with CPM's background map), the multi-scale
pyramid (Ke et al. 2018 §2.1, eq. 1), coordinate squared error and binary cross-entropy
(course report eq. 5–6; Li et al. 2014 eq. 1 and 3).
"""
from __future__ import annotations

import jax.numpy as jnp
import optax


def heatmap_mse(pred: jnp.ndarray, target: jnp.ndarray, weight: jnp.ndarray) -> jnp.ndarray:
  """Mean over (B, h, w, K) of ``w_k · (pred − target)²`` — joints with weight 0
  (unannotated or outside the crop) contribute nothing."""
  err = jnp.square(pred.astype(jnp.float32) - target)
  return jnp.mean(err * weight[:, None, None, :])


def stacked_heatmap_mse(preds, target: jnp.ndarray, weight: jnp.ndarray) -> jnp.ndarray:
  """Σ over stacks of ``heatmap_mse`` (intermediate supervision)."""
  return sum(heatmap_mse(h, target, weight) for h in preds)


def stacked_extra_map_mse(preds, target: jnp.ndarray, num_joints: int) -> jnp.ndarray:
  """Σ over stages of ``Σ_{b,y,x,c} (pred − target)² / (B·h·w·num_joints)``: maps beside the
  K joint maps (CPM's background belief, ``target`` (B, h, w, 1)), each pixel of each map
  weighed as one joint-map pixel of ``heatmap_mse``.

  Why not a plain mean over the one channel: Wei et al. 2016 eq. 4 sums the L2 over all
  P + 1 belief maps alike (§3.3; the release's Caffe ``EuclideanLoss`` on the 15-channel
  label), and ``heatmap_mse`` divides by K. With this divisor ``heatmaps + background`` is
  eq. 4 divided by the constant B·h·w·K (where every joint weight is 1); a plain mean would
  weigh the background K times a joint (and, at about 1 where the joints are about 0, it
  would dominate the loss).
  There is no per-joint weight: the map is not a joint (see ``models.cpm.background_target``).
  """
  total = jnp.zeros((), jnp.float32)
  for pred in preds:
    err = jnp.square(pred.astype(jnp.float32) - target)
    b, h, w = err.shape[:3]
    total = total + jnp.sum(err) / (b * h * w * num_joints)
  return total


def coords_mse(pred: jnp.ndarray, target: jnp.ndarray, weight: jnp.ndarray) -> jnp.ndarray:
  """Mean over (B, K, 2) of ``w_k · (pred − target)²``: joints with weight 0 (absent)
  contribute nothing (course report eq. 6, §2.1; Li et al. eq. 1)."""
  err = jnp.square(pred.astype(jnp.float32) - target)
  return jnp.mean(err * weight[..., None])


def sigmoid_bce(logits: jnp.ndarray, labels: jnp.ndarray) -> jnp.ndarray:
  """Mean binary cross-entropy of independent logistic outputs against 0/1 labels
  (course report eq. 5 with ω ∈ {0, 1}; Li et al. eq. 3)."""
  return jnp.mean(optax.sigmoid_binary_cross_entropy(logits.astype(jnp.float32), labels))


def _pyramid_level(pred: jnp.ndarray, targets: tuple) -> int:
  """Index of the ``heatmap_pyramid`` level with the spatial size of ``pred``."""
  for level, target in enumerate(targets):
    if target.shape[-3:-1] == pred.shape[-3:-1]:
      return level
  raise ValueError(f"pyramid output of size {pred.shape[-3]}×{pred.shape[-2]} has no target in "
                   f"batch['heatmap_pyramid'] (sizes {[t.shape[-3:-1] for t in targets]}); "
                   "raise data.pyramid_levels or lower the model's supervised_scales")


PYRAMID_WEIGHTINGS = ("pixels", "uniform")


def pyramid_weighting(cfg) -> str:
  """``cfg.loss.pyramid_weighting`` (default ``"pixels"``, Ke et al. eq. 1); see
  ``multiscale_heatmap_mse``."""
  value = getattr(getattr(cfg, "loss", None), "pyramid_weighting", "pixels")
  if value not in PYRAMID_WEIGHTINGS:
    raise ValueError(f"loss.pyramid_weighting={value!r}: expected one of {PYRAMID_WEIGHTINGS}")
  return value


def multiscale_heatmap_mse(pyramid, targets: tuple, weight: jnp.ndarray,
                           weighting: str = "pixels") -> jnp.ndarray:
  """Multi-scale supervision (Ke et al. 2018, §2.1, eq. 1): Σ over stacks and coarse scales.

  ``pyramid`` (the model's ``outputs["pyramid"]``) holds per stack the maps (GT, GT/2, GT/4, GT/8) of the supervised scales;
  each is compared with the ``batch["heatmap_pyramid"]`` level of the same resolution (rendered
  directly at that scale by ``codecs.heatmap.encode_pyramid``). Entries at GT resolution (level 0)
  are skipped: by the model protocol they are the stacks' ``heatmaps`` outputs, which the
  ``heatmaps`` term already supervises, so ``heatmap_mse + pyramid_mse`` counts every (stack,
  scale) map once — L = Σ_i L_i of §2.1.

  Eq. (1) sums each scale's squared error over its pixels (and averages over the joints):
  ``L_i = 1/N Σ_n Σ_{x,y} (P − G)²``. Every term here is ``heatmap_mse`` (a per-pixel mean, the
  scale of the GT term) times the level's pixel count over GT's, ``(h_i w_i) / (h w) = 4^-i``:
  the eq. (1) sum divided by the constant GT pixel count, so the GT and coarse terms keep the
  paper's ratio while the loss reads like every other model's heat-map MSE. With σ given in each
  level's own pixels a Gaussian target has about the same energy at every level, so each scale
  then pulls about equally. ``loss.pyramid_weighting="uniform"`` instead weighs every level's
  per-pixel mean by 1 (a GT/8 pixel counts 64× a GT pixel), an ablation.
  """
  if weighting not in PYRAMID_WEIGHTINGS:
    raise ValueError(f"loss.pyramid_weighting={weighting!r}: expected one of {PYRAMID_WEIGHTINGS}")
  gt_pixels = targets[0].shape[-3] * targets[0].shape[-2]
  by_pixels = weighting == "pixels"
  total = jnp.zeros((), jnp.float32)
  for stack in pyramid:
    for pred in stack:
      level = _pyramid_level(pred, targets)
      if level:
        w = pred.shape[-3] * pred.shape[-2] / gt_pixels if by_pixels else 1.0
        total = total + w * heatmap_mse(pred, targets[level], weight)
  return total
