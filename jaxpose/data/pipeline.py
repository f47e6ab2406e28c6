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

Which targets a training batch carries is the model family's choice (``family.targets()``,
passed in as ``targets``): names of batch-key builders (``jaxpose.data.targets``: ``heatmaps``,
``heatmap_pyramid``, ``coords``, ``present``, ``part_windows``, or one from outside the
package), built per example and named nowhere here. ``target_weight`` (annotated and inside
the crop) is always there.

Evaluation batches carry the plain crop ``image``, its ``affine``, the ground truth
(``EVAL_KEYS``), and what the family asks for besides (``inputs``, the family's
``eval_inputs()``, builders again): e.g. ``image_scales``, the crops of the multi-scale test,
cut from the picture decoded once (tf.data's parallel map, no second decode, no Python per
example); HMLPE's ``part_windows``; DeepPose's canvas ``jaxpose.data.cascade:full_image``.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from jaxpose.codecs import geometry
from jaxpose.data import augment, datasets
from jaxpose.data import targets as targets_lib

tf.config.set_visible_devices([], "GPU")  # JAX owns the accelerator.

EVAL_KEYS = ("joints", "valid", "visible", "norm", "center", "scale", "affine", "index")


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

  ``targets`` (training) and ``inputs`` (evaluation): names of batch-key builders
  (``jaxpose.data.targets``), the family's choice; this function names none of them."""
  data = config.data
  skeleton = datasets.skeleton(data)
  flip_perm = tf.constant(skeleton.flip_permutation, tf.int32)
  size = int(data.image_size)
  wanted = tuple(dict.fromkeys(targets if train else inputs))
  builders = {name: targets_lib.get(name) for name in wanted}
  fns = [b.make(config) for b in builders.values()]
  seed0 = int(config.seed)
  scale_pad = float(data.scale_pad)
  whole_image = any(b.whole_image for b in builders.values())

  # Plain tf ops, every branch on a Python value: nothing for AutoGraph to convert (a
  # train.py run logged its "could not transform … closure mismatch" warning here, then ran
  # the function as is).
  @tf.autograph.experimental.do_not_convert
  def transform(position, record):
    seed = tf.stack([tf.constant(seed0, tf.int64), tf.cast(position, tf.int64)])
    # The plain crop decodes only its window (issue #37); builders that read the whole
    # picture get it decoded once, and the crop is cut from that.
    image = record["image"]
    if whole_image:
      image = tf.io.decode_image(image, channels=3, expand_animations=False)
    ex = augment.augment_example(
        {"image": image, "joints": record["joints"], "valid": record["valid"],
         "center": record["center"], "scale": record["scale"]},
        seed, data.augment, size, flip_perm, train=train, scale_pad=scale_pad)
    ex["weight"] = ex["valid"] * ex["inside"]
    ex.update(center=record["center"], scale=record["scale"])
    if whole_image:
      ex["picture"] = image
    out = {"image": (ex["image"] - geometry.MEAN) / geometry.STD, "target_weight": ex["weight"],
           "valid": ex["valid"], "visible": ex["visible"], "affine": ex["affine"]}
    for fn in fns:
      out.update(fn(ex))
    if not train:
      out.update(joints=record["joints"], norm=record["norm"], center=record["center"],
                 scale=record["scale"], index=record["index"])
    return out

  return transform


def train_iterator(config, global_batch: int, start_step: int = 0,
                   process_index: int = 0, process_count: int = 1, *, targets):
  """Endless iterator of this host's numpy batches, starting at ``start_step``, with the
  training ``targets`` a family asks for (its ``targets()``)."""
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
                 process_count: int = 1, inputs=()):
  """Finite iterator of numpy batches of the whole split (un-augmented crops).

  ``inputs`` (the family's ``eval_inputs()``, e.g. ``("image_scales",)`` for the multi-scale
  test) are built besides the plain crop and the ground truth.

  The last batch is padded to ``batch_size``; its ``mask`` marks real examples.
  """
  ds, n = raw_dataset(config.data, split, process_index, process_count)
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
