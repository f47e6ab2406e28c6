"""DeepPose's refining-stage examples (jaxpose/data/cascade.py, issue #16): the box centred on
the previous stage's estimate or on a simulated one, its side σ·diam(y), the targets of one joint,
determinism and the table checks."""
import ml_collections
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from jaxpose import skeleton as sk
from jaxpose.codecs import cascade as dp
from jaxpose.data import cascade, pipeline
from jaxpose.errors import ConfigError

S = 32


@pytest.fixture
def setup(config):
  config.data.image_size = S
  config.cascade = ml_collections.ConfigDict({"sigma": 1.5, "simulated": 0.0})
  ds, n = pipeline.raw_dataset(config.data, "train")
  records = list(tfds.as_numpy(ds))
  order = np.argsort([r["index"] for r in records])
  records = [records[i] for i in order]
  gt = np.stack([r["joints"][:, :2] for r in records]).astype(np.float32)
  table = {"index": np.array([r["index"] for r in records], np.int64),
           "prev": gt + np.float32(3.0),
           "mean": np.zeros((16, 2), np.float32), "chol": np.zeros((16, 2, 2), np.float32)}
  return config, records, table


def _patch(config, table, record, position=0):
  fn = cascade.patch_transform(config, table)
  return {k: v.numpy() for k, v in fn(tf.constant(position, tf.int64), record).items()}


def test_patch_around_the_previous_estimate(setup):
  config, records, table = setup
  for r in records[:4]:
    ex = _patch(config, table, r)
    w = ex["target_weight"]
    assert ex["image"].shape == (S, S, 3) and ex["coords"].shape == (16, 2)
    (i,) = np.flatnonzero(w)  # one joint, annotated
    assert r["valid"][i] > 0
    valid = r["valid"].astype(np.float32)
    side = 1.5 * float(dp.torso_diameter(r["joints"][:, :2], sk.MPII, valid))
    # the box is centred on prev_i = gt_i + 3 px: gt_i lies 3·S/side crop pixels up-left of centre
    joint_crop = ex["coords"][i] * S - 0.5
    np.testing.assert_allclose(joint_crop, (S - 1) / 2 - 3.0 * S / side, atol=1e-3)
    # and it is the library's crop of that box
    m = np.linalg.inv(dp.box_affine_inverse(
        table["prev"][list(table["index"]).index(r["index"]), i], side, S))
    np.testing.assert_allclose(joint_crop, m[:2, :2] @ r["joints"][i, :2] + m[:2, 2], atol=1e-3)


@pytest.mark.slow
def test_simulated_boxes_follow_the_error_model(setup):
  config, records, table = setup
  config.cascade.simulated = 1.0
  table = dict(table, mean=np.full((16, 2), 0.1, np.float32))  # δ = 0.1 box sides, no spread
  r = records[0]
  ex = _patch(config, table, r)
  (i,) = np.flatnonzero(ex["target_weight"])
  # centre = gt_i + 0.1·side: gt_i sits 0.1·S crop pixels up-left of the centre
  np.testing.assert_allclose(ex["coords"][i] * S - 0.5, (S - 1) / 2 - 0.1 * S, atol=1e-3)
  # with a spread, the centres scatter with the covariance (in box sides)
  table = dict(table, mean=np.zeros((16, 2), np.float32),
               chol=np.tile(np.diag([0.05, 0.02]).astype(np.float32), (16, 1, 1)))
  offsets = []
  for p in range(300):
    ex = _patch(config, table, r, position=p)
    (i,) = np.flatnonzero(ex["target_weight"])
    offsets.append(((S - 1) / 2 - (ex["coords"][i] * S - 0.5)) / S)
  offsets = np.array(offsets)
  np.testing.assert_allclose(offsets.std(axis=0), [0.05, 0.02], rtol=0.15)


@pytest.mark.slow
def test_deterministic_and_every_joint_drawn(setup):
  config, records, table = setup
  r = records[1]
  a, b = _patch(config, table, r, 5), _patch(config, table, r, 5)
  for k in a:
    np.testing.assert_array_equal(a[k], b[k])
  drawn = {int(np.flatnonzero(_patch(config, table, r, p)["target_weight"])[0]) for p in range(200)}
  assert drawn == set(np.flatnonzero(r["valid"]).tolist())


def test_iterator_batches_and_table_errors(setup):
  config, records, table = setup
  it = cascade.train_iterator(config, 8, table)
  batch = next(it)
  assert batch["image"].shape == (8, S, S, 3) and batch["target_weight"].sum(1).tolist() == [1.0] * 8
  with pytest.raises(ConfigError, match="prev has shape"):
    cascade.patch_transform(config, dict(table, prev=table["prev"][:, :14]))
  with pytest.raises(ConfigError, match=r"lacks \['chol'\]"):
    cascade.patch_transform(config, {k: v for k, v in table.items() if k != "chol"})
  short = {k: (v[1:] if k in ("index", "prev") else v) for k, v in table.items()}
  missing = [r for r in records if r["index"] == table["index"][0]][0]
  with pytest.raises(tf.errors.InvalidArgumentError, match="no previous-stage prediction"):
    _patch(config, short, missing)
