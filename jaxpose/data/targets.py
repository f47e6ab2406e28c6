"""Named batch-key builders: what a family asks the input pipeline for, looked up by name (the
way big_vision looks up its preprocessing ops).

A family's ``targets()`` (training) and ``eval_inputs()`` (evaluation) are names in
``BUILDERS``; ``pipeline.example_transform`` builds exactly those and names none of them. A
builder is made once per pipeline from the config, ``make(config) -> fn(example) -> {key:
tensor}``, and ``fn`` runs per example inside tf.data (tf ops only). It reads the example as
``augment.augment_example`` left it:

==============  ==========================================================================
``image``       (S, S, 3) float32 crop in [0, 1] (augmented when training)
``joints_crop`` (K, 2) joints in crop pixels; ``valid`` (K,) annotated; ``visible`` (K,);
                ``inside`` (K,) inside the crop; ``weight`` = valid × inside
``affine``      (2, 3) crop pixel → image pixel
``center``,     the record's person centre and scale (``scale`` = person height / 200)
``scale``
``picture``     (H, W, 3) uint8, the whole decoded picture: only for builders registered
                with ``whole_image=True`` (the plain crop decodes only its window)
==============  ==========================================================================

Builders of the library: ``heatmaps`` (+ nothing else: ``target_weight`` is always there),
``heatmap_pyramid``, ``coords``, ``present`` (annotated, visible and inside the crop),
``part_windows`` (HMLPE's window labels, eq. (2)), ``image_scales`` (the crops of the
multi-scale test at ``config.eval.scales``, cut from the picture already decoded).

A builder from outside the package: ``register("name", make)`` before the pipeline is built,
or the name ``"package.module:function"`` (``function(config)`` is ``make``; imported when the
pipeline first asks for it, the way ``model.name`` finds models outside the package). DeepPose's
canvas for its refining stages is ``"jaxpose.data.cascade:full_image"``: the pipeline does not
know the cascade.
"""
from __future__ import annotations

import dataclasses
import pkgutil
from typing import Callable

from jaxpose.codecs import coords as coords_codec
from jaxpose.codecs import geometry
from jaxpose.codecs import heatmap as heatmap_codec
from jaxpose.codecs import part_windows as part_windows_codec
from jaxpose.data import augment, datasets
from jaxpose.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Builder:
  """``make(config) -> fn(example) -> {key: tensor}``; ``whole_image``: ``fn`` reads the whole
  decoded ``picture``."""
  make: Callable
  whole_image: bool = False


BUILDERS: dict[str, Builder] = {}


def register(name: str, make: Callable, whole_image: bool = False) -> None:
  """Adds builder ``name`` (see the module docstring). Names in use cannot be replaced."""
  if name in BUILDERS:
    raise ValueError(f"a batch-key builder named {name!r} is already registered")
  BUILDERS[name] = Builder(make, bool(whole_image))


def get(name: str) -> Builder:
  """The builder ``name``: registered, or ``"package.module:function"`` imported."""
  if name in BUILDERS:
    return BUILDERS[name]
  if ":" in name:
    try:
      obj = pkgutil.resolve_name(name)
    except (ImportError, AttributeError, ValueError) as e:
      raise ConfigError(f"batch-key builder {name!r}: cannot import it ({e})") from None
    return obj if isinstance(obj, Builder) else Builder(obj)
  raise ConfigError(f"the input pipeline has no builder {name!r}; it has "
                    f"{', '.join(sorted(BUILDERS))} (or name one 'package.module:function')")


# ------------------------------------------------------------------ the library's builders

def _heatmaps(config):
  codec = heatmap_codec.HeatmapCodec.from_config(config.data)
  return lambda ex: {"heatmaps": codec.encode(ex["joints_crop"], ex["weight"])[0]}


def _heatmap_pyramid(config):
  codec = heatmap_codec.HeatmapCodec.from_config(config.data)
  return lambda ex: {"heatmap_pyramid": tuple(codec.encode_pyramid(ex["joints_crop"],
                                                                   ex["weight"]))}


def _coords(config):
  codec = coords_codec.CoordCodec(int(config.data.image_size))
  return lambda ex: {"coords": codec.encode(ex["joints_crop"])}


def _present(config):
  return lambda ex: {"present": ex["visible"] * ex["inside"]}


def _part_windows(config):
  data = config.data
  pw = data.part_windows
  boxes = part_windows_codec.window_boxes(int(pw.crop), int(pw.window), int(pw.grid)) * (
      int(data.image_size) / float(pw.crop))
  parts = [(a, b) for _, a, b in datasets.skeleton(data).parts]
  beta = float(pw.beta)
  return lambda ex: {"part_windows": part_windows_codec.encode(
      ex["joints_crop"], ex["valid"], parts, boxes, beta)}


def _image_scales(config):
  scales = heatmap_codec.check_scales(config.eval.scales)
  size, pad = int(config.data.image_size), float(config.data.scale_pad)

  def fn(ex):
    crops = augment.scale_crops(ex["picture"], ex["center"], ex["scale"], size, scales, pad)
    return {"image_scales": (crops - geometry.MEAN) / geometry.STD}
  return fn


register("heatmaps", _heatmaps)
register("heatmap_pyramid", _heatmap_pyramid)
register("coords", _coords)
register("present", _present)
register("part_windows", _part_windows)
register("image_scales", _image_scales, whole_image=True)
