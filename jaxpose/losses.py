"""Losses: pure functions of (model outputs, batch).

``compute`` adds one term per output key the model produced, so every family gets
its loss from the same call: ``heatmaps`` → heatmap MSE over every stack (intermediate
supervision, Newell et al. 2016 §3.4; Tang & Wu 2019 §3.3). Later families register
their terms (multi-scale pyramids, coordinates, visibility, part windows) in ``TERMS``.
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


# output key -> (term name, function(outputs, batch, cfg) -> scalar)
TERMS: dict[str, tuple[str, Callable]] = {
    "heatmaps": ("heatmap_mse", _stacked_heatmaps),
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
