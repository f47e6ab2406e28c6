"""Losses: pure functions of (model outputs, batch).

``compute`` adds one term per output key the model produced, so every family gets
its loss from the same call: ``heatmaps`` → heatmap MSE over every stack (intermediate
supervision, Newell et al. 2016 §3.4; Tang & Wu 2019 §3.3); ``pyramid`` → heatmap MSE at
the coarser scales GT/2, GT/4, GT/8 of every stack (multi-scale supervision, Ke et al. 2018
§2.1; the GT maps stay with ``heatmaps``). Later families register their terms
(coordinates, visibility, part windows) in ``TERMS``.
"""
from __future__ import annotations

from typing import Callable

import jax.numpy as jnp


def heatmap_mse(pred: jnp.ndarray, target: jnp.ndarray, weight: jnp.ndarray) -> jnp.ndarray:
  """Mean over (B, h, w, K) of ``w_k · (pred − target)²`` — joints with weight 0
  (unannotated or outside the crop) contribute nothing."""
  err = jnp.square(pred.astype(jnp.float32) - target)
  return jnp.mean(err * weight[:, None, None, :])


def _stacked_heatmaps(outputs, batch, cfg) -> jnp.ndarray:
  return sum(heatmap_mse(h, batch["heatmaps"], batch["target_weight"])
             for h in outputs["heatmaps"])


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
  """``cfg.loss.pyramid_weighting`` (default ``"pixels"``, Ke et al. eq. 1); see below."""
  value = getattr(getattr(cfg, "loss", None), "pyramid_weighting", "pixels")
  if value not in PYRAMID_WEIGHTINGS:
    raise ValueError(f"loss.pyramid_weighting={value!r}: expected one of {PYRAMID_WEIGHTINGS}")
  return value


def _multiscale_heatmaps(outputs: dict, batch: dict, cfg=None) -> jnp.ndarray:
  """Multi-scale supervision (Ke et al. 2018, §2.1, eq. 1): Σ over stacks and coarse scales.

  ``outputs["pyramid"]`` holds per stack the maps (GT, GT/2, GT/4, GT/8) of the supervised scales;
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
  targets = tuple(batch["heatmap_pyramid"])
  gt_pixels = targets[0].shape[-3] * targets[0].shape[-2]
  by_pixels = pyramid_weighting(cfg) == "pixels"
  total = jnp.zeros((), jnp.float32)
  for stack in outputs["pyramid"]:
    for pred in stack:
      level = _pyramid_level(pred, targets)
      if level:
        weight = pred.shape[-3] * pred.shape[-2] / gt_pixels if by_pixels else 1.0
        total = total + weight * heatmap_mse(pred, targets[level], batch["target_weight"])
  return total


# output key -> (term name, function(outputs, batch, cfg) -> scalar)
TERMS: dict[str, tuple[str, Callable]] = {
    "heatmaps": ("heatmap_mse", _stacked_heatmaps),
    "pyramid": ("pyramid_mse", _multiscale_heatmaps),
}


def compute(outputs: dict, batch: dict, cfg=None) -> tuple[jnp.ndarray, dict]:
  """Total loss and its named terms. ``cfg.loss_weights`` (optional) scales terms."""
  weights = dict(getattr(cfg, "loss_weights", None) or {})
  terms = {}
  for key, (name, fn) in TERMS.items():
    if key in outputs:
      terms[name] = fn(outputs, batch, cfg)
  if not terms:
    raise ValueError(f"no loss term for model outputs {sorted(outputs)}; known: {sorted(TERMS)}")
  total = sum(weights.get(n, 1.0) * v for n, v in terms.items())
  return total, terms
