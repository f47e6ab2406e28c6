"""Checkpoint → (config, variables, step): which checkpoint a path names, the variables' shapes
for a config, and the restore itself (parameters and BatchNorm statistics only, no optimizer)."""
from __future__ import annotations

import os
from typing import Optional

import jax
import jax.numpy as jnp
import ml_collections

from jaxpose import checkpoint, models


def resolve_checkpoint(path: str, which: str = "latest") -> tuple[str, int]:
  """(workdir, step) for a workdir or a ``WORKDIR/checkpoints/STEP`` directory."""
  path = os.path.abspath(path)
  base = os.path.basename(path.rstrip("/"))
  if base.isdigit() and os.path.basename(os.path.dirname(path)) == "checkpoints":
    return os.path.dirname(os.path.dirname(path)), int(base)
  if not os.path.isdir(os.path.join(path, "checkpoints")):
    raise checkpoint.CheckpointError(f"{path}: no checkpoints/ folder (is this a jaxpose workdir?)")
  if which not in ("latest", "best"):
    raise checkpoint.CheckpointError(f"which={which!r}: expected latest or best")
  mngr = checkpoint.manager(path, read_only=True)
  step = mngr.best_step() if which == "best" else mngr.latest_step()
  if step is None:
    raise checkpoint.CheckpointError(f"{path}/checkpoints holds no finished checkpoint")
  return path, int(step)


def default_which(path: str) -> str:
  """The checkpoint a tool reads by default: a workdir's config ``eval.checkpoint`` (latest
  or best, as evaluate.py), ``latest`` for a ``WORKDIR/checkpoints/STEP`` directory (which
  names its step itself)."""
  workdir, latest = resolve_checkpoint(path, "latest")
  if os.path.abspath(path) != workdir:
    return "latest"
  saved = checkpoint.restore_config(checkpoint.manager(workdir, read_only=True), latest)
  return str(saved.get("eval", {}).get("checkpoint", "latest"))


def abstract_variables(config) -> dict:
  """The shapes of the model's variables for ``config`` (nothing allocated)."""
  model = models.create(config.model)
  size = int(config.data.image_size)
  key = jax.random.PRNGKey(0)
  return jax.eval_shape(lambda r: model.init({"params": r, "dropout": r},
                                             jnp.zeros((1, size, size, 3), jnp.float32),
                                             train=False), key)


def restore(path: str, which: str = "latest",
            overrides: Optional[ml_collections.ConfigDict] = None,
            data_overrides: Optional[dict] = None) -> tuple:
  """(config, variables, step, workdir) of the checkpoint at ``path`` — parameters and
  BatchNorm statistics only. See ``load``."""
  workdir, step = resolve_checkpoint(path, which)
  mngr = checkpoint.manager(workdir, read_only=True)
  if step not in mngr.all_steps():
    raise checkpoint.CheckpointError(f"{workdir}/checkpoints has no step {step}; it has {mngr.all_steps()}")
  config = checkpoint.restore_config(mngr, step)
  if overrides is not None:
    checkpoint.check_compatible(config, overrides, f"{workdir}/checkpoints/{step}")
    config = overrides
  if data_overrides:
    config = with_data(config, data_overrides, f"{workdir}/checkpoints/{step}")
  variables = checkpoint.restore_variables(mngr, step, abstract_variables(config))
  return config, variables, step, workdir


def with_data(config, data_overrides: dict, where: str = ""):
  """A copy of ``config`` with ``data`` updated by ``data_overrides``; with ``where`` (the
  checkpoint's name) a dataset of another joint count is a ``CheckpointError``."""
  config = config.copy_and_resolve_references()
  config.data.update(data_overrides)
  if where:
    from jaxpose.data import datasets  # tf-free registry lookup
    k = datasets.skeleton(config.data).num_joints
    if k != int(config.model.num_joints):
      raise checkpoint.CheckpointError(
          f"{where} predicts {config.model.num_joints} joints; dataset {config.data.name} "
          f"has {k}")
  return config
