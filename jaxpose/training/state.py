"""The training state: one pytree, so orbax saves and restores it whole."""
from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax


@flax.struct.dataclass
class TrainState:
  step: jnp.ndarray
  params: Any
  batch_stats: Any
  opt_state: Any
  rng: jnp.ndarray

  @property
  def variables(self) -> dict:
    v = {"params": self.params}
    if self.batch_stats:
      v["batch_stats"] = self.batch_stats
    return v


def create(model, tx: optax.GradientTransformation, rng: jax.Array, image_shape) -> TrainState:
  """Initialises parameters with ``rng`` on a zero batch of ``image_shape`` (B, H, W, 3)."""
  init_rng, state_rng = jax.random.split(rng)
  variables = model.init({"params": init_rng, "dropout": init_rng},
                         jnp.zeros(image_shape, jnp.float32), train=False)
  params = variables["params"]
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    batch_stats=variables.get("batch_stats", {}),
                    opt_state=tx.init(params), rng=state_rng)


def num_params(params) -> int:
  return int(sum(x.size for x in jax.tree_util.tree_leaves(params)))


def first_replica(tree):
  """The first local replica of a ``pmap``-replicated pytree, as host numpy arrays.

  Unlike ``flax.jax_utils.unreplicate`` this also works across hosts, where device 0 of a
  replicated global array may belong to another process: it reads this process's first
  addressable shard (which keeps the leading replica axis of length 1, dropped here).
  """
  def one(x):
    d = np.asarray(x.addressable_data(0))
    return d[0] if d.ndim == x.ndim else d
  return jax.tree_util.tree_map(one, tree)
