"""Model families (``base.Family``): one object per kind of model output.

``get(config)`` returns the family of ``config.model.name``: the model class says which one
(``models.family_of``: a registered family's name, or a ``Family`` subclass itself).
``register(cls)`` adds a family, as ``models.register`` adds a model: a family from outside
the package needs no library file changed. Families: ``heatmap`` (stacked hourglass, PBN), ``msn`` (multi-scale
supervision), ``cpm`` (convolutional pose machines: stage beliefs + background), ``coords``
(coordinate regressors with an optional visibility head), ``hmlpe`` (joint regression +
sliding-window part detectors, Li et al. 2014).
"""
from __future__ import annotations

from jaxpose import models
from jaxpose.errors import ConfigError
from jaxpose.families.base import Family
from jaxpose.families.coords import CoordFamily
from jaxpose.families.heatmap import CPMFamily, HeatmapFamily, MSNFamily
from jaxpose.families.hmlpe import HMLPEFamily

FAMILIES: dict[str, type[Family]] = {}


def register(cls: type[Family]) -> type[Family]:
  """Class decorator: ``FAMILIES[cls.name] = cls``. A name in use by another class is an error."""
  if not (isinstance(cls, type) and issubclass(cls, Family)) or not cls.name:
    raise ValueError(f"{cls!r}: a family is a subclass of jaxpose.families.Family with a name")
  if FAMILIES.get(cls.name, cls) is not cls:
    raise ValueError(f"family {cls.name!r} is already registered ({FAMILIES[cls.name]!r})")
  FAMILIES[cls.name] = cls
  return cls


for _cls in (HeatmapFamily, MSNFamily, CPMFamily, CoordFamily, HMLPEFamily):
  register(_cls)


def get(config) -> Family:
  """The family object of ``config`` (its model's family, built for its data geometry)."""
  name = models.family_of(config.model.name)
  if isinstance(name, type) and issubclass(name, Family):  # the model names its class
    return register(name)(config)
  if name not in FAMILIES:
    raise ConfigError(f"model.name={config.model.name!r} declares family {name!r}; known "
                      f"families: {', '.join(sorted(FAMILIES))}")
  return FAMILIES[name](config)


__all__ = ["FAMILIES", "CPMFamily", "CoordFamily", "Family", "HMLPEFamily", "HeatmapFamily",
           "MSNFamily", "get", "register"]
