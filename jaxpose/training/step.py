"""The train step, one function for every device layout.

``make_train_step(model, tx, family, axis_name)`` returns ``step(state, batch) -> (state,
metrics)``. With ``axis_name=None`` it is meant for ``jax.jit`` on one device; with an
axis name it is meant for ``jax.pmap(..., axis_name=axis_name)``: the loss, the gradients
and the BatchNorm statistics are averaged across devices (``lax.pmean``), so N devices
on N shards of a batch take the same step as one device on the whole batch (with
synchronised BatchNorm, ``train.sync_batch_norm``, also the forward pass is the same).

``frozen`` (``config_check.frozen_predicate``: top-level parameter name -> frozen?) keeps those
parameters and their BatchNorm statistics bit-identical (the optimizer, built with the same
predicate, already gives them zero updates; here they are also taken back from the old state, so
not even ``p + 0`` touches them) and leaves their gradients out of ``grad_norm`` and the
cross-device mean. Their gradients are then unused, so XLA drops their computation: phase 2 of
the course report's regressors (Chen et al. §3.3) backpropagates only through the regression
branch. A frozen BatchNorm layer still normalises with the batch's statistics under
``train=True`` (the forward pass is the model's); only its running statistics are kept.
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import optax

from jaxpose.training.state import TrainState


def make_train_step(model, tx: optax.GradientTransformation, family,
                    axis_name: Optional[str] = None,
                    lr_fn: Optional[Callable] = None,
                    frozen: Optional[Callable[[str], bool]] = None) -> Callable:
  """``family.loss(outputs, batch)`` (``jaxpose.families``) gives the loss and its terms;
  ``frozen``: see the module docstring."""
  def keep_frozen(old, new):
    if frozen is None:
      return new
    return {k: old[k] if frozen(k) and k in old else v for k, v in new.items()}

  def step(state: TrainState, batch: dict):
    rng = jax.random.fold_in(state.rng, state.step)
    if axis_name is not None:
      rng = jax.random.fold_in(rng, jax.lax.axis_index(axis_name))

    def loss_fn(params):
      variables = {"params": params, "batch_stats": state.batch_stats}
      outputs, updates = model.apply(variables, batch["image"], train=True,
                                     rngs={"dropout": rng}, mutable=["batch_stats"])
      loss, terms = family.loss(outputs, batch)
      return loss, (terms, updates.get("batch_stats", state.batch_stats))

    (loss, (terms, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params)
    if frozen is not None:  # unused gradients: XLA does not compute them
      grads = {k: jax.tree_util.tree_map(jnp.zeros_like, g) if frozen(k) else g
               for k, g in grads.items()}
    if axis_name is not None:
      mean = lambda g: jax.lax.pmean(g, axis_name)
      grads = (mean(grads) if frozen is None
               else {k: g if frozen(k) else mean(g) for k, g in grads.items()})
      loss, terms, batch_stats = jax.lax.pmean((loss, terms, batch_stats), axis_name)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = keep_frozen(state.params, optax.apply_updates(state.params, updates))
    batch_stats = keep_frozen(state.batch_stats, batch_stats)
    metrics = {"loss": loss, **terms, "grad_norm": optax.tree.norm(grads)}
    if lr_fn is not None:
      metrics["learning_rate"] = lr_fn(state.step)
    new_state = state.replace(step=state.step + 1, params=params, batch_stats=batch_stats,
                              opt_state=opt_state)
    return new_state, metrics

  return step
