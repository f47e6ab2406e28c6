"""The embedded synthetic dataset: determinism, annotation sanity, difficulty, TFDS build."""
import io

import numpy as np
import pytest
from PIL import Image

from jaxpose import skeleton as skel
from jaxpose.data.records import validate
from jaxpose.data.sources import synthetic
from jaxpose.evaluation import pck


def _records(split, n, seed=0, size=128):
  return list(synthetic.generate(split, n, seed=seed, image_size=size))


def test_deterministic_per_seed_split_and_index():
  a = _records("train", 4)
  b = _records("train", 4)
  for ra, rb in zip(a, b):
    assert ra.image == rb.image
    np.testing.assert_array_equal(ra.joints, rb.joints)
  other_split = _records("validation", 4)
  assert all(ra.image != rv.image for ra, rv in zip(a, other_split))
  other_seed = _records("train", 4, seed=1)
  assert all(ra.image != ro.image for ra, ro in zip(a, other_seed))


def test_records_are_valid_mpii_annotations():
  for r in _records("train", 60, size=96):
    validate(r, skel.MPII.num_joints, "synthetic")
    image = np.asarray(Image.open(io.BytesIO(r.image)))
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    xy = r.joints[:, :2][r.valid > 0]
    assert (xy >= 0).all() and (xy <= 95).all()
    assert (r.joints[r.valid == 0] == 0).all()
    # The crop box (side 200·scale·1.25 around center) holds every annotated joint.
    half = 200 * r.scale * 1.25 / 2
    assert (np.abs(xy - r.center) <= half).all()
    assert 0 < r.norm < 200 * r.scale
    # MPII geometry: a front-facing person has the left shoulder right of the right one.
    l, rs = skel.MPII.index("l_shoulder"), skel.MPII.index("r_shoulder")
    if r.valid[l] and r.valid[rs]:
      assert r.joints[l, 0] > r.joints[rs, 0]


def test_some_joints_are_cut_off_or_occluded():
  recs = _records("train", 200, size=64)
  valid = np.stack([r.valid for r in recs])
  visible = np.stack([r.visible for r in recs])
  assert 0 < (valid == 0).mean() < 0.1
  assert ((valid > 0) & (visible == 0)).any()


def test_mean_pose_scores_below_35_percent_pckh():
  """The data are not trivial: predicting the mean pose (in the person's box) scores < 35%."""
  def normalised(records):
    return np.stack([(r.joints[:, :2] - r.center) / (200 * r.scale) for r in records])

  train, val = _records("train", 300), _records("validation", 200)
  valid_train = np.stack([r.valid for r in train])[..., None]
  mean = (normalised(train) * valid_train).sum(0) / np.maximum(valid_train.sum(0), 1)
  pred = np.stack([r.center + mean * 200 * r.scale for r in val])
  gt = np.stack([r.joints[:, :2] for r in val])
  valid = np.stack([r.valid for r in val])
  norm = np.array([r.norm for r in val])
  correct, counted = pck.correct_mask(pred, gt, valid, norm, 0.5)
  score = 100 * correct.sum() / counted.sum()
  assert score < 35.0, score


def test_unknown_split_is_an_error():
  with pytest.raises(ValueError, match="splits"):
    next(synthetic.generate("val", 1))


def test_tfds_builder_generates_all_splits(cache_dir):
  from jaxpose.data.builders import synthetic as builder_lib
  b = builder_lib.load_builder(6, 3, 2, seed=3, image_size=64, data_dir=cache_dir + "/tfds_b")
  assert {s: b.info.splits[s].num_examples for s in ("train", "validation", "test")} == {
      "train": 6, "validation": 3, "test": 2}
  ex = next(iter(b.as_dataset(split="validation").take(1)))
  assert tuple(ex["image"].shape) == (64, 64, 3)
  assert tuple(ex["joints"].shape) == (16, 3)
  # Reloading reuses the prepared data; another seed is another config.
  again = builder_lib.load_builder(6, 3, 2, seed=3, image_size=64, data_dir=cache_dir + "/tfds_b")
  assert again.data_dir == b.data_dir
  other = builder_lib.load_builder(6, 3, 2, seed=4, image_size=64, data_dir=cache_dir + "/tfds_b")
  assert other.data_dir != b.data_dir
