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


def _multiscale_heatmaps(outputs: dict, batch: dict, cfg=None) -> jnp.ndarray:
  """Multi-scale supervision (Ke et al. 2018, §2.1, eq. 1): Σ over stacks and coarse scales.

  ``outputs["pyramid"]`` holds per stack the maps (GT, GT/2, GT/4, GT/8) of the supervised scales;
  each is compared with the ``batch["heatmap_pyramid"]`` level of the same resolution (rendered
  directly at that scale by ``codecs.heatmap.encode_pyramid``). Entries at GT resolution (level 0)
  are skipped: by the model protocol they are the stacks' ``heatmaps`` outputs, which the
  ``heatmaps`` term already supervises, so ``heatmap_mse + pyramid_mse`` counts every (stack,
  scale) map once — L = Σ_i L_i of §2.1. Each L_i is ``heatmap_mse`` (a mean over pixels).
  """
  targets = tuple(batch["heatmap_pyramid"])
  total = jnp.zeros((), jnp.float32)
  for stack in outputs["pyramid"]:
    for pred in stack:
      level = _pyramid_level(pred, targets)
      if level:
        total = total + heatmap_mse(pred, targets[level], batch["target_weight"])
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
