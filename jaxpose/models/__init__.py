"""Pose models (flax.linen) and the registry that maps config names to them.

``create(config.model)`` builds a model from a config section holding ``name`` (the registry key)
and the constructor fields of that family. Importing this package must stay free of tensorflow.

Adding a model: define the module in its own file, import it here and
``register("name", family=...)(Cls)`` (or decorate a class defined elsewhere). Every model
belongs to a family (``jaxpose.families``: how its outputs are trained, decoded, flipped and
drawn); the family is the ``family`` argument of ``register`` or the class attribute
``family``. A model outside this package needs no registration: ``model.name =
"package.module:ClassName"`` imports it (the class must have a ``family`` attribute), so
``python train.py --config.model.name=mynets:TinyNet`` trains your own network.
"""

from __future__ import annotations

import dataclasses
import pkgutil
from typing import Any, Callable, Mapping, Optional

import flax.linen as nn
import jax.numpy as jnp

from jaxpose.models.hourglass import Hourglass, HourglassStem, StackedHourglass
from jaxpose.models import layers
from jaxpose.models.layers import Bottleneck, Conv1x1, Residual
from jaxpose.models.pbn import PBN, check_grouping
from jaxpose.models.msn import MSN
from jaxpose.models.regressors import AlexNet, Baseline1, Baseline2, VGG19
from jaxpose.models.cpm import CPM
from jaxpose.models.hmlpe import HMLPE

MODELS: dict[str, type[nn.Module]] = {}
FAMILY: dict[str, str] = {}

# flax.linen dataclass fields that are not constructor options of a model.
_RESERVED = frozenset({"parent", "name"})

# Config keys that say how a constructor field is computed at training start-up, not fields
# themselves: each maps to its model's check that the field was resolved, called as
# ``check(model name, value, the other keys, the class's fields)``; ``create`` then drops the key.
# PBN: ``model.grouping`` → ``model.groups`` (``pbn.check_grouping``, ``jaxpose/grouping``).
RESOLVED_AT_START_UP: dict[str, Callable[..., None]] = {"grouping": check_grouping}


def register(name: str, family: Optional[str] = None) -> Callable[[type[nn.Module]], type[nn.Module]]:
  """Class decorator: ``MODELS[name] = cls`` in ``family`` (default: ``cls.family``).
  Re-registering a name with another class is an error."""

  def wrap(cls: type[nn.Module]) -> type[nn.Module]:
    if name in MODELS and MODELS[name] is not cls:
      raise ValueError(f"model name {name!r} is already registered to {MODELS[name].__name__}")
    fam = family or getattr(cls, "family", None)
    if not fam:
      raise ValueError(f"model {name!r}: give register(..., family=...) or a class attribute "
                       "'family'")
    MODELS[name] = cls
    FAMILY[name] = fam
    return cls

  return wrap


def model_class(name: str) -> type[nn.Module]:
  """The class of ``model.name``: a registered name, or ``"package.module:ClassName"``."""
  if name in MODELS:
    return MODELS[name]
  if ":" in name:
    module, _, attr = name.partition(":")
    try:
      cls = pkgutil.resolve_name(name)
    except (ImportError, AttributeError) as e:
      raise ValueError(f"model.name={name!r}: cannot import {attr} from {module}: {e}") from None
    if not getattr(cls, "family", None):
      raise ValueError(f"model.name={name!r}: the class has no 'family' attribute (one of the "
                       "jaxpose.families names, e.g. 'heatmap' or 'coords')")
    return cls
  raise ValueError(f"unknown model.name {name!r} (registered models: {', '.join(sorted(MODELS))}; "
                   "or 'package.module:ClassName')")


def family_of(name: str) -> str:
  """The family name of ``model.name``."""
  return FAMILY[name] if name in FAMILY else model_class(name).family


def fields(cls: type[nn.Module]) -> tuple[str, ...]:
  """The constructor fields a config may set for a model class."""
  return tuple(f.name for f in dataclasses.fields(cls) if f.init and f.name not in _RESERVED)


def _convert(key: str, value: Any) -> Any:
  if key == "dtype" and isinstance(value, str):
    return jnp.dtype(value)  # "float32" / "bfloat16" from configs and the CLI
  if isinstance(value, list):  # ConfigDict keeps lists; module fields must be hashable
    return tuple(_convert(key, v) for v in value)
  return value


def create(model_cfg: Mapping[str, Any] | Any, **overrides: Any) -> nn.Module:
  """Build the model named by ``model_cfg.name`` with the remaining keys as constructor fields.

  ``model_cfg``: an ``ml_collections.ConfigDict`` or a mapping. ``overrides`` are fields the
  caller sets whatever the config says (the trainer passes ``bn_axis_name`` under ``pmap``;
  every registered model must accept it). Unknown names or keys raise ``ValueError`` naming
  them and the allowed choices. The keys of ``RESOLVED_AT_START_UP`` (PBN's ``model.grouping``)
  are not passed on: their model's check (``ValueError`` if unresolved) runs, then they are
  dropped. ``model.layer_forms`` ("auto" | "cpu" | "xla", ``layers.LAYER_FORMS``)
  is every registered model's field: the forms of the shared layers.
  """
  cfg = dict(model_cfg.to_dict() if hasattr(model_cfg, "to_dict") else model_cfg)
  cfg.update(overrides)
  if "name" not in cfg:
    raise ValueError(f"model config has no 'name' (registered models: {', '.join(sorted(MODELS))})")
  name = cfg.pop("name")
  cls = model_class(name)
  allowed = fields(cls)
  for key in [k for k in cfg if k in RESOLVED_AT_START_UP]:
    RESOLVED_AT_START_UP[key](name, cfg.pop(key), cfg, allowed)
  if "layer_forms" in cfg:
    _check_layer_forms(name, cfg, "layer_forms" in allowed)
  unknown = [k for k in cfg if k not in allowed]
  if unknown:
    raise ValueError("; ".join(f"model.{k} is not a field of {name}" for k in unknown)
                     + f" (fields: {', '.join(allowed)})")
  return cls(**{k: _convert(k, v) for k, v in cfg.items()})


def _check_layer_forms(name: str, cfg: dict, has_field: bool) -> None:
  """``model.layer_forms`` (``layers.LAYER_FORMS``): every registered model has the field; a
  model of your own without it runs in the context's forms, so only "auto" is accepted there."""
  value = layers.check_layer_forms(cfg["layer_forms"])
  if not has_field:
    if value != "auto":
      raise ValueError(f"model.layer_forms={value!r}: model {name!r} has no layer_forms field "
                       "(give it one and decorate its __call__ with "
                       "jaxpose.models.layers.uses_layer_forms)")
    del cfg["layer_forms"]


register("hourglass", family="heatmap")(StackedHourglass)
register("pbn", family="heatmap")(PBN)
register("msn", family="msn")(MSN)
register("baseline1", family="coords")(Baseline1)
register("baseline2", family="coords")(Baseline2)
register("alexnet", family="coords")(AlexNet)
register("vgg19", family="coords")(VGG19)
register("cpm", family="cpm")(CPM)
register("hmlpe", family="hmlpe")(HMLPE)

__all__ = ["CPM", "FAMILY", "MODELS", "MSN", "AlexNet", "Baseline1", "Baseline2", "VGG19", "PBN", "Bottleneck", "Conv1x1", "Hourglass", "HourglassStem",
           "Residual", "StackedHourglass", "create", "family_of", "fields", "model_class", "register"]
