"""Training examples of DeepPose's refining stages (Toshev & Szegedy 2014 §3.2; issue #16): one
sub-image per example, cut from the full-resolution image around a joint.

Stage s ≥ 2 trains on the stage-(s−1) predictions of the training set and on simulated ones.
Every training record yields one example (so that resuming at step ``s`` skips ``s × batch``
raw records, exactly as ``pipeline.train_iterator`` does):

1. a joint ``i`` drawn uniformly among the record's annotated joints (DeepPose trains all
   joints with one network per stage; drawing one per visit covers them all in expectation and
   keeps one decode per patch);
2. the box centre: with probability ``1 − simulated`` the previous stage's estimate
   ``y_i^(s−1)`` of this record (``table["prev"]``), else a simulated estimate
   ``y_i + side · δ``, δ ~ N(μ_i, Σ_i), the stage-(s−1) error distribution of joint ``i``
   measured on the training set (``table["mean"]``, ``table["chol"]`` = Cholesky factor of Σ_i),
   in the box frame of ``codecs.cascade.error_statistics``;
3. the box side ``σ · diam(y)`` of the ground-truth pose (§3.2's training boxes;
   ``codecs.cascade.torso_diameter_tf``: the torso pair and its fallback); a person with
   neither torso diagonal annotated uses the record's ``norm`` (LSP's torso size with its
   fallbacks, ``sources.lsp.torso_norm``);
4. the crop: ``codecs.geometry.crop_matrix_tf`` / ``augment.warp`` — the library's crop (box
   edges on the crop's outer edges), decoding only the window the patch reads, with
   ``scale = side / (200 · scale_pad)``;
5. targets: ``coords`` (K, 2) of every joint in the patch frame and ``target_weight`` one-hot
   at ``i`` (× annotated × inside the patch): the stage network outputs all K joints and only
   output ``i`` is trained (DeepPose's ψ_i), so the coordinate family's L2 term trains it as is.

No other augmentation: DeepPose's refiners are trained on these boxes alone (§3.2). tf only.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from jaxpose.codecs import cascade as dp
from jaxpose.codecs import coords as coords_codec
from jaxpose.codecs import geometry
from jaxpose.data import augment, datasets, pipeline, targets
from jaxpose.errors import ConfigError

TABLE_KEYS = ("index", "prev", "mean", "chol")


def check_table(table: dict, num_joints: int) -> None:
  """Raises ``ConfigError`` when the stage-(s−1) table is not what the pipeline needs."""
  missing = [k for k in TABLE_KEYS if k not in table]
  if missing:
    raise ConfigError(f"cascade training table lacks {missing} (it needs {TABLE_KEYS})")
  n = len(table["index"])
  shapes = {"prev": (n, num_joints, 2), "mean": (num_joints, 2), "chol": (num_joints, 2, 2)}
  for key, shape in shapes.items():
    if tuple(np.shape(table[key])) != shape:
      raise ConfigError(f"cascade training table: {key} has shape {np.shape(table[key])}, "
                        f"expected {shape}")
  if n and np.any(np.diff(np.asarray(table["index"])) <= 0):
    raise ConfigError("cascade training table: index must be strictly increasing")


def patch_transform(config, table: dict):
  """The per-record function ``(position, record) -> patch example`` (see the module docstring).

  ``table``: ``index`` (N,) record indices, increasing; ``prev`` (N, K, 2) the previous stage's
  predictions of those records in image pixels; ``mean`` (K, 2), ``chol`` (K, 2, 2) the error
  model. ``config.cascade``: ``sigma`` (box side / torso diameter), ``simulated`` (fraction of
  boxes centred on simulated estimates)."""
  data, cas = config.data, config.cascade
  skeleton = datasets.skeleton(data)
  k = skeleton.num_joints
  check_table(table, k)
  if skeleton.torso is None:
    raise ConfigError(f"cascade: skeleton {skeleton.name!r} has no torso pair for diam(y)")
  size = int(data.image_size)
  scale_pad = float(data.scale_pad)
  sigma, p_sim = float(cas.sigma), float(cas.simulated)
  index = tf.constant(np.asarray(table["index"], np.int64))
  prev = tf.constant(np.asarray(table["prev"], np.float32))
  mean = tf.constant(np.asarray(table["mean"], np.float32))
  chol = tf.constant(np.asarray(table["chol"], np.float32))
  seed0 = int(config.seed)

  def transform(position, record):
    seed = tf.stack([tf.constant(seed0, tf.int64), tf.cast(position, tf.int64)])
    s_joint, s_sim, s_delta = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    joints = tf.cast(record["joints"][:, :2], tf.float32)
    valid = tf.cast(record["valid"], tf.float32)
    row = tf.searchsorted(index, tf.reshape(tf.cast(record["index"], tf.int64), [1]))[0]
    row = tf.minimum(row, tf.shape(index, out_type=row.dtype)[0] - 1)
    tf.debugging.assert_equal(tf.gather(index, row), tf.cast(record["index"], tf.int64),
                              message="cascade: a training record has no previous-stage "
                                      "prediction (was the table made from another split?)")
    logits = tf.math.log(tf.maximum(valid, 1e-30))[None, :]
    i = tf.random.stateless_categorical(logits, 1, s_joint, dtype=tf.int32)[0, 0]
    diam = dp.torso_diameter_tf(joints, skeleton, valid)
    side = sigma * tf.where(diam > 0, diam, tf.cast(record["norm"], tf.float32))  # NaN > 0 is False
    z = tf.random.stateless_normal([2], s_delta)
    delta = mean[i] + tf.linalg.matvec(chol[i], z)
    simulated = tf.random.stateless_uniform([], s_sim) < p_sim
    center = tf.where(simulated, joints[i] + side * delta, tf.gather(prev, row)[i])
    matrix = geometry.crop_matrix_tf(center, side / (200.0 * scale_pad), size, None, scale_pad)
    patch = augment.warp(record["image"], matrix, size)  # decodes only the patch's window
    joints_crop = geometry.apply_affine_tf(joints, matrix)
    weight = tf.one_hot(i, k) * valid * geometry.inside(joints_crop, size)
    return {"image": (patch - geometry.MEAN) / geometry.STD,
            "coords": coords_codec.encode(joints_crop, size),
            "target_weight": weight, "valid": valid}

  return transform


def canvas(image, center, scale, scale_pad: float, cascade_cfg):
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


def _full_image(config):
  """The batch-key builder ``"jaxpose.data.cascade:full_image"`` (``data.targets``) that the
  cascade's predictor asks the evaluation pipeline for: ``full_image`` + ``full_affine``, the
  ``canvas`` around the person, cut from the whole decoded picture."""
  pad, cascade_cfg = float(config.data.scale_pad), config.cascade

  def fn(ex):
    image, affine = canvas(ex["picture"], ex["center"], ex["scale"], pad, cascade_cfg)
    return {"full_image": image, "full_affine": affine}
  return fn


full_image = targets.Builder(_full_image, whole_image=True)


def train_iterator(config, global_batch: int, table: dict, start_step: int = 0,
                   process_index: int = 0, process_count: int = 1):
  """Endless iterator of this host's numpy patch batches (``pipeline.train_iterator``'s order,
  shuffle and resume rule, one patch per record)."""
  if global_batch % process_count:
    raise ValueError(f"train.batch_size={global_batch} is not divisible by {process_count} hosts")
  host_batch = global_batch // process_count
  ds, n = pipeline.raw_dataset(config.data, config.data.train_split, process_index, process_count)
  ds = ds.shuffle(min(int(config.data.shuffle_buffer), n), seed=int(config.seed),
                  reshuffle_each_iteration=True).repeat()
  ds = ds.enumerate().skip(int(start_step) * host_batch)
  ds = ds.map(patch_transform(config, table), num_parallel_calls=tf.data.AUTOTUNE,
              deterministic=True)
  ds = ds.batch(host_batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
  return iter(tfds.as_numpy(ds))
