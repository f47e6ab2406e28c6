"""Released models: trained weights that ship inside the package (issue #38).

An entry is a folder ``jaxpose/zoo/<name>/`` (or any folder laid out the same way):

- ``variables.msgpack``: the network's parameters and BatchNorm statistics,
  ``flax.serialization.msgpack_serialize({"params": …, "batch_stats": …})``, float32;
- ``config.json``: the training run's config (what ``checkpoint.config_to_dict`` writes);
- ``manifest.json``: ``{"name", "step", "sha256": {array path: digest}, "source", …}`` — a
  digest per array, checked on every load, as the training checkpoints are
  (``checkpoint.check_arrays``: a changed array or a non-finite value is refused by name);
- ``MODEL_CARD.md``: data and licence, network, recipe, the exact command, results.

Loading needs numpy, flax and ml_collections only: no tensorflow, no orbax, no workdir.
``Predictor.pretrained(name)`` (``jaxpose.inference``) builds a predictor from it;
``python -m jaxpose.export --workdir=RUN --release=DIR`` writes one from a trained run.
"""
from __future__ import annotations

import json
import os

import numpy as np

from jaxpose import checkpoint
from jaxpose.errors import CheckpointError

_HERE = os.path.dirname(os.path.abspath(__file__))
FILES = ("variables.msgpack", "config.json", "manifest.json")


def names() -> tuple[str, ...]:
  """The released models that ship with this copy of jaxpose."""
  return tuple(sorted(d for d in os.listdir(_HERE)
                      if os.path.isfile(os.path.join(_HERE, d, "manifest.json"))))


def folder(name: str) -> str:
  """The folder of released model ``name``, or ``name`` itself when it is a folder."""
  if os.path.isdir(name) and os.path.isfile(os.path.join(name, "manifest.json")):
    return os.path.abspath(name)
  path = os.path.join(_HERE, name)
  if not os.path.isfile(os.path.join(path, "manifest.json")):
    raise CheckpointError(f"no released model {name!r} (released: {', '.join(names()) or 'none'}; "
                          "or give a folder holding manifest.json)")
  return path


def _read_json(path: str) -> dict:
  try:
    with open(path) as f:
      out = json.load(f)
  except (OSError, ValueError) as e:
    raise CheckpointError(f"{path}: cannot read it ({e})") from None
  if not isinstance(out, dict):
    raise CheckpointError(f"{path}: not a JSON object")
  return out


def load(name: str) -> tuple:
  """(config, variables, manifest) of released model ``name`` (or a folder), every array
  checked against its digest in ``manifest.json``."""
  import ml_collections
  from flax import serialization
  where = folder(name)
  manifest = _read_json(os.path.join(where, "manifest.json"))
  config = checkpoint.upgrade_config(
      ml_collections.ConfigDict(_read_json(os.path.join(where, "config.json"))))
  path = os.path.join(where, "variables.msgpack")
  try:
    with open(path, "rb") as f:
      variables = serialization.msgpack_restore(f.read())
  except Exception as e:  # msgpack raises several types for damaged bytes
    raise CheckpointError(f"{path}: cannot read it ({type(e).__name__}: {e})") from None
  if not isinstance(variables, dict) or "params" not in variables:
    raise CheckpointError(f"{path}: no 'params' in it")
  checkpoint.check_arrays(path, variables, manifest.get("sha256"))
  if set(checkpoint.digests(variables)) != set(manifest.get("sha256") or {}):
    raise CheckpointError(f"{path}: its arrays are not the ones manifest.json lists")
  return config, variables, manifest


def save(out: str, config, variables: dict, step: int, **info) -> str:
  """Writes a released-model folder ``out`` from a run's config and variables (parameters and
  BatchNorm statistics, as ``inference.restore`` returns them); ``info`` goes into the manifest
  (the source run, the command, the card's figures)."""
  from flax import serialization
  import jax
  host = jax.tree_util.tree_map(
      np.asarray, {k: v for k, v in variables.items() if k in ("params", "batch_stats")})
  os.makedirs(out, exist_ok=True)
  with open(os.path.join(out, "variables.msgpack"), "wb") as f:
    f.write(serialization.msgpack_serialize(host))
  with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(checkpoint.config_to_dict(config), f, indent=2, sort_keys=True)
  manifest = {"name": os.path.basename(os.path.abspath(out)), "step": int(step),
              "sha256": checkpoint.digests(host), **info}
  with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=2, sort_keys=True)
  return out

