"""Orbax checkpoints under ``WORKDIR/checkpoints`` with the config saved beside them.

Each step directory holds two items: ``state`` (the whole ``TrainState``: step, params,
batch_stats, opt_state, rng) and ``config`` (the run's config as JSON), so
``evaluate.py --checkpoint=WORKDIR/checkpoints/STEP`` needs nothing else. The manager keeps
the last ``keep`` checkpoints and, in addition, the best one by the validation metric it
was saved with (``BEST_METRIC``: the family's main metric, e.g. PCKh@0.5 Total, whatever
its name; the name itself is stored beside it as ``METRIC_NAME``).

This module sits below both ``inference`` (which restores only parameters and BatchNorm
statistics, ``restore_variables``, and never builds an optimizer) and ``training`` (which
saves and resumes whole states).
"""
from __future__ import annotations

import json
import os
from typing import Optional

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as pp

from jaxpose.errors import CheckpointError

# A checkpoint's metrics: {BEST_METRIC: value, METRIC_NAME: "PCKh@0.5 Total"} (the table
# title and column the value is). Checkpoints before 2026-12 stored only "val_pckh", which
# was not always PCKh; still read as the score.
BEST_METRIC = "validation_score"
METRIC_NAME = "validation_metric"
_OLD_BEST_METRIC = "val_pckh"


def manager(workdir: str, keep: int = 3, read_only: bool = False) -> ocp.CheckpointManager:
  directory = os.path.join(os.path.abspath(workdir), "checkpoints")
  best = lambda metrics: metrics.get(BEST_METRIC, metrics.get(_OLD_BEST_METRIC))
  options = ocp.CheckpointManagerOptions(
      best_fn=best, best_mode="max",
      preservation_policy=None if read_only else pp.AnyPreservationPolicy([
          pp.LatestN(n=max(1, keep)),
          pp.BestN(get_metric_fn=best, reverse=False, n=1,
                   keep_checkpoints_without_metrics=False),
      ]),
      create=not read_only, read_only=read_only, enable_async_checkpointing=False)
  return ocp.CheckpointManager(directory, options=options, item_names=("state", "config"))


def save(mngr: ocp.CheckpointManager, step: int, state, config: ml_collections.ConfigDict,
         metrics: Optional[dict] = None) -> None:
  mngr.save(step, args=ocp.args.Composite(
      state=ocp.args.StandardSave(state),
      config=ocp.args.JsonSave(config_to_dict(config))),
      metrics=metrics, force=True)
  mngr.wait_until_finished()


def restore_config(mngr: ocp.CheckpointManager, step: int) -> ml_collections.ConfigDict:
  try:
    restored = mngr.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))
  except Exception as e:  # orbax raises several types for missing/corrupt items
    raise CheckpointError(f"cannot read the config of checkpoint {_path(mngr, step)}: {e}") from e
  return ml_collections.ConfigDict(restored["config"])


def restore_state(mngr: ocp.CheckpointManager, step: int, target):
  """Restores into the structure of ``target`` (a freshly initialised state)."""
  abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, target)
  try:
    restored = mngr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract)))
  except Exception as e:
    raise CheckpointError(
        f"checkpoint {_path(mngr, step)} does not fit the model built from this config "
        f"(was it written by another config?): {e}") from e
  return restored["state"]


def restore_variables(mngr: ocp.CheckpointManager, step: int, abstract_variables: dict) -> dict:
  """``{"params": …[, "batch_stats": …]}`` of checkpoint ``step``, checked against the shapes of
  ``abstract_variables`` (``jax.eval_shape`` of the model's init). No optimizer is built: the
  stored state is read without a target and only its parameters and statistics are kept.
  A missing or misshaped leaf raises ``CheckpointError`` naming the first few."""
  where = _path(mngr, step)
  try:
    restored = mngr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))
  except Exception as e:
    raise CheckpointError(f"cannot read the state of checkpoint {where}: {e}") from e
  state = restored["state"]
  if not isinstance(state, dict) or "params" not in state:
    raise CheckpointError(f"checkpoint {where} holds no 'params' (not a jaxpose checkpoint?)")
  out = {}
  for col in ("params", "batch_stats"):
    want = abstract_variables.get(col)
    if not want:
      continue
    have = state.get(col) or {}
    problems = _tree_diff(want, have)
    if problems:
      raise CheckpointError(
          f"checkpoint {where} does not fit the model built from this config (was it written "
          f"by another config?): {col}: " + "; ".join(problems[:5])
          + (f"; … {len(problems) - 5} more" if len(problems) > 5 else ""))
    out[col] = jax.tree_util.tree_map(lambda w, h: np.asarray(h, dtype=w.dtype), want, have)
  return out


def _tree_diff(want, have, prefix: str = "") -> list:
  """Where ``have`` (restored dict) differs from ``want`` (abstract) in keys or shapes."""
  if isinstance(want, dict):
    if not isinstance(have, dict):
      return [f"{prefix or '/'}: expected a dict, found {type(have).__name__}"]
    out = [f"{prefix}/{k}: missing" for k in want if k not in have]
    out += [f"{prefix}/{k}: unexpected" for k in have if k not in want]
    for k in want:
      if k in have:
        out += _tree_diff(want[k], have[k], f"{prefix}/{k}")
    return out
  shape = tuple(np.shape(have))
  return [] if shape == tuple(want.shape) else [f"{prefix}: shape {shape}, model has {tuple(want.shape)}"]


def check_compatible(saved: ml_collections.ConfigDict, current: ml_collections.ConfigDict,
                     where: str) -> None:
  """Raises when the network or its input geometry differ between two configs."""
  keys = ["model", "data.image_size", "data.heatmap_size", "data.name", "data.skeleton"]
  diffs = []
  a, b = config_to_dict(saved), config_to_dict(current)
  for key in keys:
    va, vb = _get(a, key), _get(b, key)
    if isinstance(va, dict) and isinstance(vb, dict):
      for sub in sorted(set(va) | set(vb)):
        if va.get(sub) != vb.get(sub):
          diffs.append(f"{key}.{sub}: checkpoint has {va.get(sub)!r}, this config has {vb.get(sub)!r}")
    elif va != vb:
      diffs.append(f"{key}: checkpoint has {va!r}, this config has {vb!r}")
  if diffs:
    raise CheckpointError(f"checkpoint {where} was written by an incompatible config:\n  "
                          + "\n  ".join(diffs))


def _get(d: dict, dotted: str):
  for part in dotted.split("."):
    if not isinstance(d, dict) or part not in d:
      return None
    d = d[part]
  return d


def _path(mngr, step) -> str:
  return os.path.join(str(mngr.directory), str(step))


def config_to_dict(config) -> dict:
  """A JSON-safe plain dict of a ConfigDict (tuples become lists)."""
  if isinstance(config, ml_collections.ConfigDict):
    config = config.to_dict()
  return json.loads(json.dumps(config, default=list))


def save_config(workdir: str, config) -> None:
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, "config.json"), "w") as f:
    json.dump(config_to_dict(config), f, indent=2, sort_keys=True)
