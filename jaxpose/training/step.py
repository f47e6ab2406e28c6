"""The train step, one function for every device layout.

``make_train_step(model, tx, cfg, axis_name)`` returns ``step(state, batch) -> (state,
metrics)``. With ``axis_name=None`` it is meant for ``jax.jit`` on one device; with an
axis name it is meant for ``jax.pmap(..., axis_name=axis_name)``: the loss, the gradients
and the BatchNorm statistics are averaged across devices (``lax.pmean``), so N devices
on N shards of a batch take the same step as one device on the whole batch (with
synchronised BatchNorm, ``train.sync_batch_norm``, also the forward pass is the same).
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import optax

from jaxpose import losses
from jaxpose.codecs import heatmap as heatmap_codec
from jaxpose.training.state import TrainState


def make_train_step(model, tx: optax.GradientTransformation, loss_cfg=None,
                    axis_name: Optional[str] = None,
                    lr_fn: Optional[Callable] = None) -> Callable:
  def step(state: TrainState, batch: dict):
    rng = jax.random.fold_in(state.rng, state.step)
    if axis_name is not None:
      rng = jax.random.fold_in(rng, jax.lax.axis_index(axis_name))

    def loss_fn(params):
      variables = {"params": params, "batch_stats": state.batch_stats}
      outputs, updates = model.apply(variables, batch["image"], train=True,
                                     rngs={"dropout": rng}, mutable=["batch_stats"])
      loss, terms = losses.compute(outputs, batch, loss_cfg)
      return loss, (terms, updates.get("batch_stats", state.batch_stats))

    (loss, (terms, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params)
    if axis_name is not None:
      grads = jax.lax.pmean(grads, axis_name)
      loss, terms, batch_stats = jax.lax.pmean((loss, terms, batch_stats), axis_name)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {"loss": loss, **terms, "grad_norm": optax.global_norm(grads)}
    if lr_fn is not None:
      metrics["learning_rate"] = lr_fn(state.step)
    new_state = state.replace(step=state.step + 1, params=params, batch_stats=batch_stats,
                              opt_state=opt_state)
    return new_state, metrics

  return step


def make_predict(model, flip_perm=None) -> Callable:
  """``predict(variables, images) -> final heatmaps``; with ``flip_perm`` also runs the
  mirrored images and averages in their heat maps, flipped back with left/right swapped.

  No one-pixel shift is applied to the flipped maps: with pixel centres at integers at
  both resolutions, mirroring the crop maps heat-map column u to w − 1 − u exactly.
  """
  def forward(variables, images):
    return model.apply(variables, images, train=False)["heatmaps"][-1].astype(jnp.float32)

  def predict(variables, images):
    heatmaps = forward(variables, images)
    if flip_perm is not None:
      flipped = forward(variables, images[:, :, ::-1, :])
      heatmaps = heatmap_codec.merge_flip(heatmaps, flipped, flip_perm)
    return heatmaps

  return predict
