"""Model families (``base.Family``): one object per kind of model output.

``get(config)`` returns the family of ``config.model.name``: the model class says which one
(``models.family_of``). Families: ``heatmap`` (stacked hourglass, PBN), ``msn`` (multi-scale
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

FAMILIES: dict[str, type[Family]] = {
    f.name: f for f in (HeatmapFamily, MSNFamily, CPMFamily, CoordFamily, HMLPEFamily)}


def get(config) -> Family:
  """The family object of ``config`` (its model's family, built for its data geometry)."""
  name = models.family_of(config.model.name)
  if name not in FAMILIES:
    raise ConfigError(f"model.name={config.model.name!r} declares family {name!r}; known "
                      f"families: {', '.join(sorted(FAMILIES))}")
  return FAMILIES[name](config)


__all__ = ["FAMILIES", "CPMFamily", "CoordFamily", "Family", "HMLPEFamily", "HeatmapFamily",
           "MSNFamily", "get"]
