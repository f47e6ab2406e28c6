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

Verification (issue #39): every checkpoint also holds a ``digest`` item, the SHA-256 of each
array of the state (its dtype, shape and bytes) keyed by its path (``params/stem/conv/kernel``),
written in the same orbax save as the state, so before its commit marker. Whatever reads a
checkpoint (``restore_state``, ``restore_variables``, ``verify``) recomputes the digests of what
it read and refuses, with ``DamagedCheckpointError`` naming the checkpoint and the array, one
that differs, is missing, or holds NaN/inf. Checkpoints written before (no ``digest`` item, e.g.
``tests/fixtures/ckpt_v0_1``) are read as before, with the non-finite check only.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import Callable, Optional

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as pp

from jaxpose.errors import CheckpointError, DamagedCheckpointError

# A checkpoint's metrics: {BEST_METRIC: value, METRIC_NAME: "PCKh@0.5 Total"} (the table
# title and column the value is). Checkpoints before 2026-12 stored only "val_pckh", which
# was not always PCKh; still read as the score.
BEST_METRIC = "validation_score"
METRIC_NAME = "validation_metric"
_OLD_BEST_METRIC = "val_pckh"
DIGEST = "digest"  # the item holding {"sha256": {array path: hex digest}}


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
  with _quiet():
    return ocp.CheckpointManager(directory, options=options,
                                 item_names=("state", "config", DIGEST))


@contextlib.contextmanager
def _quiet():
  """orbax and tensorstore quiet while they work: a failing read or write logs (absl, asyncio)
  and prints (tensorstore's callbacks into a closed event loop, through ``sys.stderr``) dozens
  to thousands of lines before and just after it raises, which buried the one ``error:`` line
  the CLIs print for it. On failure the late callbacks get a moment to finish unheard, and the
  asyncio logger stays silent: the failed writes' tasks are garbage-collected later, down to
  interpreter exit, each logging "Task exception was never retrieved" with its traceback (a
  real full disk: 214 of them after the error line)."""
  import io
  import logging
  import sys
  import time
  from absl import logging as absl_logging
  old = absl_logging.get_verbosity(), logging.getLogger("asyncio").level, sys.stderr
  absl_logging.set_verbosity(absl_logging.FATAL)
  logging.getLogger("asyncio").setLevel(logging.CRITICAL)
  sys.stderr = io.StringIO()
  failed = False
  try:
    yield
  except BaseException:
    failed = True
    time.sleep(0.3)
    raise
  finally:
    sys.stderr = old[2]
    if not failed:
      logging.getLogger("asyncio").setLevel(old[1])
    absl_logging.set_verbosity(old[0])


def _reason(e: BaseException) -> str:
  """The first line of an exception, short (orbax's messages run to pages)."""
  text = str(e).strip().splitlines()
  line = text[0] if text else type(e).__name__
  return line if len(line) <= 240 else line[:237] + "..."


def save(mngr: ocp.CheckpointManager, step: int, state, config: ml_collections.ConfigDict,
         metrics: Optional[dict] = None) -> None:
  """Saves ``state`` (with its digests) and ``config`` as checkpoint ``step``. A storage
  failure (disk full, no permission, a file where a folder belongs) raises ``CheckpointError``
  naming the path; orbax writes into a temporary folder and renames it on success, so the
  checkpoints saved before are untouched."""
  host = jax.device_get(state)
  where = _path(mngr, step)
  try:
    with _quiet():
      mngr.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave(state),
          config=ocp.args.JsonSave(config_to_dict(config)),
          **{DIGEST: ocp.args.JsonSave({"sha256": digests(host)})}),
          metrics=metrics, force=True)
      mngr.wait_until_finished()
  except (OSError, ValueError, RuntimeError) as e:
    good = last_good(mngr, before=step)
    raise CheckpointError(f"cannot write checkpoint {where}: {_reason(e)}; the checkpoints "
                          "saved before are kept (last good checkpoint: "
                          f"{good or 'none, none was saved yet'})") from None


def restore_config(mngr: ocp.CheckpointManager, step: int) -> ml_collections.ConfigDict:
  try:
    with _quiet():
      restored = mngr.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))
  except Exception as e:  # orbax raises several types for missing/corrupt items
    raise DamagedCheckpointError(
        f"cannot read the config of checkpoint {_path(mngr, step)}: {_reason(e)}") from None
  if not isinstance(restored["config"], dict):
    raise DamagedCheckpointError(f"checkpoint {_path(mngr, step)}: its config is not a JSON "
                                 "object")
  return upgrade_config(ml_collections.ConfigDict(restored["config"]))


def restore_state(mngr: ocp.CheckpointManager, step: int, target):
  """Restores into the structure of ``target`` (a freshly initialised state), verified."""
  where = _path(mngr, step)
  abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, target)
  try:
    with _quiet():
      restored = mngr.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract)))
  except Exception as e:
    _raw_state(mngr, step)  # raises DamagedCheckpointError when the files themselves are bad
    raise CheckpointError(
        f"checkpoint {where} does not fit the model built from this config "
        f"(was it written by another config?): {_reason(e)}") from None
  check_arrays(where, restored["state"], _read_digests(mngr, step))
  return restored["state"]


def _raw_state(mngr, step: int):
  """The stored state as orbax reads it without a target (nested dicts of numpy arrays)."""
  try:
    with _quiet():
      return mngr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))["state"]
  except Exception as e:
    raise DamagedCheckpointError(
        f"checkpoint {_path(mngr, step)} is damaged: its state cannot be read "
        f"({_reason(e)})") from None


def verify(mngr: ocp.CheckpointManager, step: int) -> None:
  """Reads checkpoint ``step`` (config and whole state) and checks every array against its
  digest and for NaN/inf; ``DamagedCheckpointError`` naming the checkpoint and array if not."""
  restore_config(mngr, step)
  check_arrays(_path(mngr, step), _raw_state(mngr, step), _read_digests(mngr, step))


def newest_intact(mngr: ocp.CheckpointManager,
                  say: Optional[Callable[[str], None]] = None) -> Optional[int]:
  """The newest step that ``verify`` accepts (None when there is no checkpoint). Each damaged
  newer one is reported through ``say`` on one line; when every checkpoint is damaged,
  ``DamagedCheckpointError`` naming the newest and why."""
  steps = sorted(mngr.all_steps(), reverse=True)
  first = None
  for step in steps:
    try:
      verify(mngr, step)
    except DamagedCheckpointError as e:
      first = first or e
      continue
    if first is not None and say is not None:
      say(f"warning: {first}; resuming from {_path(mngr, step)}, the newest intact checkpoint")
    return step
  if first is not None:
    raise DamagedCheckpointError(f"{first}; no intact checkpoint is left in "
                                 f"{mngr.directory} (move the folder away to start afresh)")
  return None


def last_good(mngr: ocp.CheckpointManager, before: Optional[int] = None) -> Optional[str]:
  """The path of the newest checkpoint (older than step ``before`` if given) that ``verify``
  accepts, or None: what a message may call the last good checkpoint."""
  steps = [s for s in mngr.all_steps() if before is None or s < before]
  for step in sorted(steps, reverse=True):
    try:
      verify(mngr, step)
    except CheckpointError:
      continue
    return _path(mngr, step)
  return None


def _read_digests(mngr, step: int) -> Optional[dict]:
  """``{path: sha256}`` of checkpoint ``step``; None for a checkpoint saved before digests."""
  where = _path(mngr, step)
  if not os.path.isdir(os.path.join(where, DIGEST)):
    return None
  try:
    with _quiet():
      doc = mngr.restore(step, args=ocp.args.Composite(**{DIGEST: ocp.args.JsonRestore()}))[DIGEST]
  except Exception as e:
    raise DamagedCheckpointError(f"checkpoint {where} is damaged: its digest item cannot be "
                                 f"read ({_reason(e)})") from None
  sha = doc.get("sha256") if isinstance(doc, dict) else None
  if not isinstance(sha, dict) or not all(isinstance(v, str) for v in sha.values()):
    raise DamagedCheckpointError(f"checkpoint {where} is damaged: its digest item is not "
                                 "{'sha256': {array: digest}}")
  return sha


def _key(path) -> str:
  """A pytree path as ``params/stem/conv/kernel``: the same string for a restored nested dict
  and for the dataclass / namedtuple it was saved from."""
  parts = []
  for k in path:
    for attr in ("key", "name", "idx"):
      if hasattr(k, attr):
        parts.append(str(getattr(k, attr)))
        break
    else:
      parts.append(str(k))
  return "/".join(parts)


def _digest(leaf) -> str:
  a = np.ascontiguousarray(np.asarray(leaf))
  h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
  h.update(a.tobytes())
  return h.hexdigest()


def digests(tree) -> dict:
  """``{array path: SHA-256 of its dtype, shape and bytes}`` of every leaf of ``tree``."""
  return {_key(p): _digest(v) for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


def check_arrays(where: str, tree, sha: Optional[dict], prefixes: tuple = ()) -> None:
  """Raises ``DamagedCheckpointError`` naming ``where`` and the array when a leaf of ``tree``
  under ``prefixes`` (all when empty) differs from its digest in ``sha``, a digest's array is
  missing, or a float leaf holds NaN/inf. ``sha`` None (an old checkpoint): NaN/inf only."""
  have = {_key(p): v for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}
  wanted = lambda k: not prefixes or k.startswith(prefixes)
  for key, digest in (sha or {}).items():
    if not wanted(key):
      continue
    if key not in have:
      raise DamagedCheckpointError(f"checkpoint {where} is damaged: array {key} is missing")
    if _digest(have[key]) != digest:
      raise DamagedCheckpointError(f"checkpoint {where} is damaged: array {key} changed after "
                                   "it was saved (its SHA-256 differs from the stored one)")
  for key, value in have.items():
    a = np.asarray(value)
    if wanted(key) and a.dtype.kind in "fc" and not np.isfinite(a).all():
      raise DamagedCheckpointError(f"checkpoint {where}: array {key} holds NaN or inf "
                                   f"({int((~np.isfinite(a)).sum())} of {a.size} values)")


def restore_variables(mngr: ocp.CheckpointManager, step: int, abstract_variables: dict) -> dict:
  """``{"params": …[, "batch_stats": …]}`` of checkpoint ``step``, checked against the shapes of
  ``abstract_variables`` (``jax.eval_shape`` of the model's init). No optimizer is built: the
  stored state is read without a target and only its parameters and statistics are kept.
  A missing or misshaped leaf raises ``CheckpointError`` naming the first few."""
  where = _path(mngr, step)
  state = _raw_state(mngr, step)
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
  check_arrays(where, {c: state.get(c) or {} for c in ("params", "batch_stats")},
               _read_digests(mngr, step), prefixes=("params/", "batch_stats/"))
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


# ---------------------------------------------------------------------------------------------
# Stored configs of older versions. Every checkpoint and every released model stores its run's
# config; one written before a key joined the schema lacks it. ``upgrade_config`` fills such keys
# in once, where a stored config is read (``restore_config``; ``zoo.load``), so that the code
# reads ``config.data.scale_pad`` like any other key and states no default of its own.

# Keys that a stored config may lack, with the value that means what the versions without the
# key did: configs/default.py's value (tests/checkpoint/test_config_upgrade.py checks that the
# two agree), except where a new default changed the behaviour (``NEW_DEFAULTS``: the older runs
# keep what they did, and the figures measured with them). A fresh config has them all: every
# recipe builds on configs/default.py. Not here: ``model.*`` (a network's constructor fields,
# absent = the field's default, e.g. layer_forms).
ADDED_KEYS = {
    "data.scale_pad": 1.25,        # the crop side = 1.25 × the person box
    "data.limit": 0,               # every record of a split
    "data.on_error": "raise",      # a bad record is an error
    "train.grad_clip": 0.0,        # no gradient clipping
    "train.frozen": (),            # two-phase training (#15): nothing frozen
    "train.trainable": (),
    "eval.scales": (1.0,),         # the single-scale test
    "eval.subpixel": "quarter",    # heat maps decoded with the quarter-pixel shift
}
NEW_DEFAULTS = ("eval.subpixel",)  # configs/default.py now says "dark" (DARK, Zhang et al. 2020)


def upgrade_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """``config``, a stored one, with each key of ``ADDED_KEYS`` it lacks set to its default (in
  place; returned). A section the config lacks altogether (``data``, ``eval``, …) is left out:
  that is no run's config."""
  for dotted, value in ADDED_KEYS.items():
    *sections, key = dotted.split(".")
    node = config
    for section in sections:
      node = node.get(section) if isinstance(node, ml_collections.ConfigDict) else None
    if isinstance(node, ml_collections.ConfigDict) and key not in node:
      node[key] = value
  return config


# ---------------------------------------------------------------------------------------------
# Initialising from another run's parameters (``init_from``: fine-tuning, two-phase training).
# The trainer restores the other run (``inference.restore``) and passes its variables here; this
# block only merges trees and names what it copied, kept fresh or left unused.

def initialise_from(fresh: dict, stored: dict, where: str, source: str,
                    is_frozen: Optional[Callable[[str], bool]] = None,
                    say: Optional[Callable[[str], None]] = None) -> dict:
  """Fine-tuning, and phase 2 of two-phase training (Chen et al. §3.3: train the classification
  head, then "append two fully connected layers at the branch point to train regression head").

  ``fresh``: this network's initial ``{"params": …, "batch_stats": …}``; ``stored``: the
  variables of checkpoint ``where`` (the run named by ``source``, e.g. ``"init_from=runs/p1"``,
  as the messages name it). Returns the two collections with every leaf the checkpoint also
  has, with the same shape, copied in; the others keep their fresh initialisation. Through
  ``say`` (e.g. ``print`` on the chief process) one line names what was copied and what stayed
  fresh, another the checkpoint's arrays this network does not use.

  Raises ``CheckpointError`` naming ``where`` and the leaf when a shared leaf differs in shape
  or kind (array / layer), when nothing is shared, or when a parameter that ``is_frozen``
  (a predicate on top-level parameter names, ``train.frozen`` / ``train.trainable``) freezes
  has no counterpart in the checkpoint, so it would stay at its random initialisation.
  """
  log = {"copied": 0, "fresh": [], "unused": []}
  merged = {col: merge(fresh[col], stored.get(col) or {}, col, where, log)
            for col in ("params", "batch_stats")}
  if not log["copied"]:
    raise CheckpointError(f"{source}: checkpoint {where} shares no parameter with this network "
                          "(is it a run of another model?)")
  if is_frozen is not None:
    stale = [p for p in log["fresh"] if is_frozen(p.split("/")[1])]
    if stale:
      raise CheckpointError(
          f"{source}: checkpoint {where} has no {stale[0]}, which train.frozen / "
          f"train.trainable freeze: it would keep its random initialisation")
  if say is not None:
    kept = summarise(log["fresh"], merged)
    say(f"init_from {where}: copied {log['copied']} arrays; fresh (not in the checkpoint): "
        f"{', '.join(kept) or 'none'}")
    if log["unused"]:
      say(f"init_from {where}: not used (not in this network): {', '.join(log['unused'])}")
  return merged


def merge(fresh, stored, path: str, where: str, log: dict):
  """``fresh`` (this network's initial tree under ``path``) with every leaf ``stored`` also has
  copied in (cast to the fresh leaf's dtype). ``log`` collects ``copied`` (a count), ``fresh``
  (leaf paths kept as initialised, ``mark_fresh``) and ``unused`` (stored paths this network
  lacks). ``CheckpointError`` naming checkpoint ``where`` and the path where the two trees
  differ in kind or shape."""
  if isinstance(fresh, dict):
    if not isinstance(stored, dict):
      raise CheckpointError(f"checkpoint {where}: {path} is an array, this network has a layer "
                            "there")
    log["unused"] += [f"{path}/{k}" for k in stored if k not in fresh]
    return {k: merge(v, stored[k], f"{path}/{k}", where, log) if k in stored else
            mark_fresh(v, f"{path}/{k}", log) for k, v in fresh.items()}
  if isinstance(stored, dict):
    raise CheckpointError(f"checkpoint {where}: {path} is a layer, this network has an array of "
                          f"shape {tuple(fresh.shape)} there")
  if tuple(np.shape(stored)) != tuple(fresh.shape):
    raise CheckpointError(
        f"checkpoint {where}: {path} has shape {tuple(np.shape(stored))}, this network has "
        f"{tuple(fresh.shape)} (another model size, input size or joint count?)")
  log["copied"] += 1
  return jax.numpy.asarray(stored, dtype=fresh.dtype)


def mark_fresh(tree, path: str, log: dict):
  """Records every leaf path of ``tree`` (under ``path``) in ``log["fresh"]``; ``tree`` as is."""
  for sub, _ in jax.tree_util.tree_flatten_with_path(tree)[0]:
    log["fresh"].append(path + "".join(f"/{getattr(k, 'key', k)}" for k in sub))
  return tree


def summarise(paths, trees) -> list:
  """Leaf paths (``params/layer/…``) of ``trees`` (``{collection: tree}``), a top-level layer
  named once (``params/layer``) when all its leaves are in ``paths``."""
  out = []
  for p in paths:
    col, top = p.split("/")[:2]
    n = len(jax.tree_util.tree_leaves(trees[col][top]))
    name = f"{col}/{top}" if sum(q.startswith(f"{col}/{top}/") for q in paths) == n else p
    if name not in out:
      out.append(name)
  return out
