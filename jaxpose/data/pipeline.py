"""tf.data input pipeline: records → augment → targets → batches for one host.

Training order and augmentation are a pure function of (seed, step): the shuffled,
repeated stream of raw records is enumerated *before* any random op, every example's
augmentation draws from a stateless seed ``(config.seed, position in the stream)``, and a
run resumed at step ``s`` skips the first ``s × host_batch`` raw records (cheap: nothing
is decoded before the skip). So an interrupted run continues with exactly the batches
of an uninterrupted one. Only tf ops run per example (no ``py_function``). A crop decodes,
converts and downsamples only the window of the picture it reads (``augment.warp`` given the
encoded bytes; JPEG windows through ``decode_and_crop_jpeg``), so its cost does not grow with
the picture around the person.

Which targets a batch carries is the model family's choice (``family.targets()``, passed in
as ``targets``): ``heatmaps`` (+ ``target_weight``), ``heatmap_pyramid``, ``coords``,
``present`` (annotated, visible and inside the crop), ``part_windows``. ``target_weight``
(annotated and inside the crop) is always there.

Evaluation batches carry the plain crop ``image``, its ``affine``, the ground truth
(``EVAL_KEYS``), and what the family asks for besides (``inputs``):
``image_scales`` (B, n, S, S, 3), the crops of the multi-scale test at ``config.eval.scales``,
cut here from the image already decoded for ``image`` (tf.data's parallel map, no second
decode, no Python per example); ``part_windows``, the window labels of the plain crop (the
detection error of HMLPE's part detectors); ``full_image`` + ``full_affine``, the
full-resolution canvas around the person that DeepPose's refining stages cut their sub-images
from (``full_image``).
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from jaxpose.codecs import coords as coords_codec
from jaxpose.codecs import geometry
from jaxpose.codecs import heatmap as heatmap_codec
from jaxpose.codecs import part_windows
from jaxpose.errors import ConfigError
from jaxpose.data import augment, datasets

tf.config.set_visible_devices([], "GPU")  # JAX owns the accelerator.

EVAL_KEYS = ("joints", "valid", "visible", "norm", "center", "scale", "affine", "index")
TARGETS = ("heatmaps", "heatmap_pyramid", "coords", "present", "part_windows")
INPUTS = ("image_scales", "part_windows", "full_image")


def raw_dataset(data_cfg, split: str, process_index: int = 0, process_count: int = 1):
  """(dataset of undecoded records for this host, number of records in the split)."""
  b = datasets.builder(data_cfg)
  n = datasets.num_examples(b, split)
  ds = b.as_dataset(split=split, shuffle_files=False,
                    decoders={"image": tfds.decode.SkipDecoding()},
                    read_config=tfds.ReadConfig(try_autocache=False))
  if process_count > 1:
    ds = ds.shard(process_count, process_index)
  if data_cfg.get("cache", True):
    ds = ds.cache()
  return ds, n


def example_transform(config, train: bool, targets=(), inputs=()):
  """The per-example function ``(position, record) -> features`` (tf ops only).

  ``targets``: the training targets to build (``TARGETS``); ``inputs``: extra evaluation
  inputs (``INPUTS``); both the family's choice."""
  data = config.data
  skeleton = datasets.skeleton(data)
  flip_perm = tf.constant(skeleton.flip_permutation, tf.int32)
  size = int(data.image_size)
  targets, inputs = set(targets), set(inputs)
  for what, given, known in (("target", targets, TARGETS), ("input", inputs, INPUTS)):
    unknown = sorted(given - set(known))
    if unknown:
      raise ConfigError(f"the input pipeline cannot build the {what} {unknown[0]!r}; it builds "
                        f"{', '.join(known)}")
  if "heatmaps" in targets or "heatmap_pyramid" in targets:
    hm_codec = heatmap_codec.HeatmapCodec.from_config(data)
  xy_codec = coords_codec.CoordCodec(size)
  if "part_windows" in targets or "part_windows" in inputs:
    pw = data.part_windows
    boxes = part_windows.window_boxes(int(pw.crop), int(pw.window), int(pw.grid)) * (
        size / float(pw.crop))
    parts = [(a, b) for _, a, b in skeleton.parts]
  seed0 = int(config.seed)
  scales = heatmap_codec.check_scales(config.get("eval", {}).get("scales", (1.0,)))
  scale_pad = float(data.get("scale_pad", 1.25))

  whole_image = not train and bool(inputs & {"image_scales", "full_image"})

  # Plain tf ops, every branch on a Python value: nothing for AutoGraph to convert (a
  # train.py run logged its "could not transform … closure mismatch" warning here, then ran
  # the function as is).
  @tf.autograph.experimental.do_not_convert
  def transform(position, record):
    seed = tf.stack([tf.constant(seed0, tf.int64), tf.cast(position, tf.int64)])
    # The plain crop decodes only its window (issue #37); the evaluation inputs that read the
    # whole picture decode it once and cut every crop from that.
    image = record["image"]
    if whole_image:
      image = tf.io.decode_image(image, channels=3, expand_animations=False)
    ex = augment.augment_example(
        {"image": image, "joints": record["joints"], "valid": record["valid"],
         "center": record["center"], "scale": record["scale"]},
        seed, data.augment, size, flip_perm, train=train, scale_pad=scale_pad)
    weight = ex["valid"] * ex["inside"]
    out = {"image": (ex["image"] - geometry.MEAN) / geometry.STD, "target_weight": weight,
           "valid": ex["valid"], "visible": ex["visible"], "affine": ex["affine"]}
    if "heatmaps" in targets:
      out["heatmaps"], _ = hm_codec.encode(ex["joints_crop"], weight)
    if "heatmap_pyramid" in targets:
      out["heatmap_pyramid"] = tuple(hm_codec.encode_pyramid(ex["joints_crop"], weight))
    if "coords" in targets:
      out["coords"] = xy_codec.encode(ex["joints_crop"])
    if "present" in targets:
      out["present"] = ex["visible"] * ex["inside"]
    if "part_windows" in targets or (not train and "part_windows" in inputs):
      out["part_windows"] = part_windows.encode(
          ex["joints_crop"], ex["valid"], parts, boxes, float(data.part_windows.beta))
    if not train:
      out.update(joints=record["joints"], norm=record["norm"], center=record["center"],
                 scale=record["scale"], index=record["index"])
      if "image_scales" in inputs:
        crops = augment.scale_crops(image, record["center"], record["scale"], size, scales,
                                    scale_pad)
        out["image_scales"] = (crops - geometry.MEAN) / geometry.STD
      if "full_image" in inputs:
        out["full_image"], out["full_affine"] = full_image(
            image, record["center"], record["scale"], scale_pad, config.cascade)
    return out

  return transform


def full_image(image, center, scale, scale_pad: float, cascade_cfg):
  """The full-resolution image around a person, for DeepPose's refining stages (issue #16):
  ``(canvas (C, C, 3) uint8, affine (2, 3) canvas pixel → image pixel)``.

  The canvas is ``cascade.canvas`` = C pixels square, centred on the person: the original
  pixels, copied at an integer offset (no resampling), when the person box with
  ``cascade.canvas_margin`` fits (box side ≤ C); else the image box-downsampled by the integer
  factor f = ⌈side / C⌉ first (``augment.warp``'s antialiasing: the mean of each f × f block). Outside the image: 0 (black,
  as the training patches). uint8 keeps an evaluation batch of canvases small; the cascade
  normalises the patches it cuts from it (``inference.CascadePredictor``).
  """
  c = int(cascade_cfg.canvas)
  side = 200.0 * tf.cast(scale, tf.float64) * float(scale_pad) * float(cascade_cfg.canvas_margin)
  f = tf.maximum(tf.math.ceil(side / c), 1.0)
  center = tf.cast(tf.reshape(center, [2]), tf.float64)
  origin = tf.round(center - f * (c - 1) / 2.0)
  zero, one = tf.zeros([], tf.float64), tf.ones([], tf.float64)
  to_canvas = tf.stack([tf.stack([1.0 / f, zero, -origin[0] / f]),
                        tf.stack([zero, 1.0 / f, -origin[1] / f]), tf.stack([zero, zero, one])])
  canvas = augment.warp(image, to_canvas, c)
  canvas = tf.cast(tf.round(tf.clip_by_value(canvas, 0.0, 1.0) * 255.0), tf.uint8)
  affine = tf.stack([tf.stack([f, zero, origin[0]]), tf.stack([zero, f, origin[1]])])
  return canvas, tf.cast(affine, tf.float32)


def train_iterator(config, global_batch: int, start_step: int = 0,
                   process_index: int = 0, process_count: int = 1, targets=("heatmaps",)):
  """Endless iterator of this host's numpy batches, starting at ``start_step``, with the
  training ``targets`` a family asks for."""
  if global_batch % process_count:
    raise ValueError(f"train.batch_size={global_batch} is not divisible by {process_count} hosts")
  host_batch = global_batch // process_count
  ds, n = raw_dataset(config.data, config.data.train_split, process_index, process_count)
  ds = ds.shuffle(min(int(config.data.shuffle_buffer), n), seed=int(config.seed),
                  reshuffle_each_iteration=True).repeat()
  ds = ds.enumerate().skip(int(start_step) * host_batch)
  ds = ds.map(example_transform(config, True, targets), num_parallel_calls=tf.data.AUTOTUNE,
              deterministic=True)
  ds = ds.batch(host_batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
  return iter(tfds.as_numpy(ds))


def eval_batches(config, split: str, batch_size: int, process_index: int = 0,
                 process_count: int = 1, inputs=None):
  """Finite iterator of numpy batches of the whole split (un-augmented crops).

  ``inputs`` (the family's ``eval_inputs()``; None = ``image_scales`` when
  ``config.eval.scales`` is not ``(1.0,)``) are built besides the plain crop.

  The last batch is padded to ``batch_size``; its ``mask`` marks real examples.
  """
  ds, n = raw_dataset(config.data, split, process_index, process_count)
  if inputs is None:
    scales = heatmap_codec.check_scales(config.get("eval", {}).get("scales", (1.0,)))
    inputs = () if scales == (1.0,) else ("image_scales",)
  ds = ds.enumerate().map(example_transform(config, False, inputs=inputs),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
  for batch in tfds.as_numpy(ds):
    yield pad_batch(batch, batch_size)


def pad_batch(batch: dict, batch_size: int) -> dict:
  n = len(batch["image"])
  pad = batch_size - n
  out = {k: np.concatenate([v, np.repeat(v[-1:], pad, axis=0)]) if pad else v
         for k, v in batch.items() if not isinstance(v, tuple)}
  out["mask"] = np.arange(batch_size) < n
  return out


def steps_per_epoch(config) -> int:
  n = datasets.num_examples(datasets.builder(config.data), config.data.train_split)
  return max(1, n // int(config.train.batch_size))
