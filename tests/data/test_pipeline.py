"""jaxpose/data/pipeline.py on the embedded synthetic set (conftest's tiny 48/16/8 images, here
cut to 32×32 crops): the per-example transform builds exactly the targets asked for and they
agree with each other and with the crop's affine; unknown targets or inputs are ConfigErrors;
the training stream is a function of (seed, step), so a run resumed at step s gets the batches of
an uninterrupted one; evaluation batches cover every record once, the padding masked."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from jaxpose import skeleton as sk
from jaxpose.data import pipeline, targets
from jaxpose.errors import ConfigError

S, H = 32, 8  # crop side, heat-map side


@pytest.fixture
def tiny(config):
  config.data.image_size = S
  config.data.heatmap_size = H
  return config


def _records(config, split, n):
  ds, _ = pipeline.raw_dataset(config.data, split)
  return list(tfds.as_numpy(ds.take(n)))


def _equal(a, b):
  return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def test_unknown_targets_and_inputs_are_config_errors(tiny):
  with pytest.raises(ConfigError, match=r"no builder 'zoom'; it has coords, heatmap_pyramid, "
                                        r"heatmaps, image_scales, part_windows, present \(or"):
    pipeline.example_transform(tiny, True, targets=("heatmaps", "zoom", "halo"))
  with pytest.raises(ConfigError, match=r"no builder 'depth'"):
    pipeline.example_transform(tiny, False, inputs=("depth",))
  with pytest.raises(ConfigError, match=r"builder 'jaxpose.nowhere:fn': cannot import it"):
    pipeline.example_transform(tiny, False, inputs=("jaxpose.nowhere:fn",))
  with pytest.raises(ValueError, match="'heatmaps' is already registered"):
    targets.register("heatmaps", lambda config: None)


def _mirror_count(config):
  """A builder from outside the library (named "module:function"): per example, how many
  annotated joints lie in the left half of the crop."""
  half = float(config.data.image_size) / 2.0
  return lambda ex: {"left_count": tf.reduce_sum(
      tf.cast(ex["joints_crop"][:, 0] < half, tf.float32) * ex["valid"])}


def test_a_builder_from_outside_the_package_is_found_by_its_module_name(tiny):
  fn = pipeline.example_transform(tiny, True, targets=("coords", f"{__name__}:_mirror_count"))
  r = _records(tiny, "train", 1)[0]
  ex = fn(tf.constant(0, tf.int64), r)
  crop = (ex["coords"].numpy() * S - 0.5)
  want = np.sum((crop[:, 0] < S / 2) * ex["valid"].numpy())
  assert float(ex["left_count"]) == want and "heatmaps" not in ex


def test_training_example_builds_exactly_the_asked_targets_and_they_agree(tiny):
  fn = pipeline.example_transform(tiny, True, targets=("heatmaps", "heatmap_pyramid", "coords",
                                                       "present"))
  only_coords = pipeline.example_transform(tiny, True, targets=("coords",))
  perm = np.asarray(sk.MPII.flip_permutation)
  for position, r in enumerate(_records(tiny, "train", 3)):
    ex = {k: (tuple(np.asarray(x) for x in v) if isinstance(v, tuple) else np.asarray(v))
          for k, v in fn(tf.constant(position, tf.int64), r).items()}
    assert set(ex) == {"image", "target_weight", "valid", "visible", "affine", "heatmaps",
                       "heatmap_pyramid", "coords", "present"}
    assert set(only_coords(tf.constant(position, tf.int64), r)) == {
        "image", "target_weight", "valid", "visible", "affine", "coords"}
    assert ex["image"].shape == (S, S, 3) and ex["heatmaps"].shape == (H, H, 16)
    assert [p.shape for p in ex["heatmap_pyramid"]] == [(8, 8, 16), (4, 4, 16), (2, 2, 16),
                                                        (1, 1, 16)]
    crop = ex["coords"] * S - 0.5                    # coords = (x + 0.5) / S
    inside = np.all((crop >= 0) & (crop <= S - 1), axis=-1)
    np.testing.assert_array_equal(ex["target_weight"], ex["valid"] * inside)
    np.testing.assert_array_equal(ex["present"], ex["visible"] * inside)
    # the crop → image affine takes every annotated joint back to the record's (in the flipped
    # order when the augmentation mirrored the person)
    image_xy = crop @ ex["affine"][:, :2].T + ex["affine"][:, 2]
    ok = ex["valid"] > 0
    assert ok.sum() >= 8
    assert (np.allclose(image_xy[ok], r["joints"][:, :2][ok], atol=1e-2)
            or np.allclose(image_xy[ok], r["joints"][perm, :2][ok], atol=1e-2))
    # heat maps: a σ = 1 Gaussian at u = coords·h − 0.5, zero for the joints of weight 0
    u = ex["coords"] * H - 0.5
    grid = np.arange(H, dtype=np.float64)
    g = (np.exp(-(grid[:, None, None] - u[None, None, :, 1]) ** 2 / 2)
         * np.exp(-(grid[None, :, None] - u[None, None, :, 0]) ** 2 / 2))
    np.testing.assert_allclose(ex["heatmaps"], g * ex["target_weight"], atol=1e-5)
    np.testing.assert_allclose(ex["heatmap_pyramid"][0], ex["heatmaps"], atol=1e-6)


def test_pad_batch_repeats_the_last_example_and_masks_it():
  batch = {"image": np.arange(3 * 2, dtype=np.float32).reshape(3, 2), "index": np.array([7, 3, 5])}
  out = pipeline.pad_batch(batch, 5)
  np.testing.assert_array_equal(out["image"], [[0, 1], [2, 3], [4, 5], [4, 5], [4, 5]])
  np.testing.assert_array_equal(out["index"], [7, 3, 5, 5, 5])
  np.testing.assert_array_equal(out["mask"], [True, True, True, False, False])
  full = pipeline.pad_batch(batch, 3)
  np.testing.assert_array_equal(full["index"], batch["index"])
  np.testing.assert_array_equal(full["mask"], [True, True, True])


def test_steps_per_epoch_is_whole_batches_of_the_training_split(tiny):
  for batch, steps in ((8, 6), (10, 4), (48, 1), (100, 1)):  # 48 training records
    tiny.train.batch_size = batch
    assert pipeline.steps_per_epoch(tiny) == steps, batch


def test_evaluation_example_is_the_plain_crop_whatever_the_seed(tiny):
  r = _records(tiny, "validation", 1)[0]
  ex = pipeline.example_transform(tiny, False)(tf.constant(5, tf.int64), r)
  tiny.seed = 3
  other = pipeline.example_transform(tiny, False)(tf.constant(9, tf.int64), r)
  ex, other = ({k: np.asarray(v) for k, v in e.items()} for e in (ex, other))
  assert _equal(ex, other)
  assert set(ex) == {"image", "target_weight", "valid", "visible", "affine", *pipeline.EVAL_KEYS}
  # the box of side 200·scale·1.25 around the centre, resampled to S: crop pixel (S−1)/2 is the
  # centre, one crop pixel is side/S image pixels
  side = 200 * float(r["scale"]) * 1.25
  affine = ex["affine"].astype(np.float64)
  np.testing.assert_allclose(affine[:, :2], np.eye(2) * side / S, rtol=1e-5)
  np.testing.assert_allclose(affine[:, 2], r["center"] - side / S * (S - 1) / 2, atol=1e-3)
  np.testing.assert_array_equal(ex["joints"], r["joints"])  # ground truth untouched


def test_train_iterator_refuses_a_batch_the_hosts_cannot_split(tiny):
  with pytest.raises(ValueError, match=r"^train.batch_size=7 is not divisible by 2 hosts$"):
    pipeline.train_iterator(tiny, 7, process_count=2, targets=("heatmaps",))


# Every train_iterator / eval_batches traces the per-example transform into tf.data: ~0.5 s
# each here, ~2.5 s for the first in a process (autograph converting the augmentation), so the
# tests below take longer than the everyday loop's.
@pytest.mark.slow
def test_a_resumed_stream_continues_with_the_uninterrupted_batches(tiny):
  # 6 batches of 8 per epoch: step 7 is in the second, reshuffled epoch
  it = pipeline.train_iterator(tiny, 8, targets=("heatmaps",))
  stream = [next(it) for _ in range(8)]
  assert not np.array_equal(stream[7]["image"], stream[6]["image"])  # not one batch repeated
  resumed = pipeline.train_iterator(tiny, 8, start_step=7, targets=("heatmaps",))
  assert _equal(next(resumed), stream[7])


@pytest.mark.slow
def test_the_same_seed_and_step_give_the_same_batch_another_seed_another(tiny):
  first = next(pipeline.train_iterator(tiny, 8, start_step=2, targets=("heatmaps",)))
  assert _equal(next(pipeline.train_iterator(tiny, 8, start_step=2, targets=("heatmaps",))), first)
  tiny.seed = 1
  other = next(pipeline.train_iterator(tiny, 8, start_step=2, targets=("heatmaps",)))
  assert not np.array_equal(other["image"], first["image"])


@pytest.mark.slow
def test_eval_batches_cover_every_record_once_with_the_padding_masked(tiny):
  records = {int(r["index"]): r for r in _records(tiny, "validation", 100)}
  assert sorted(records) == list(range(16))
  batches = list(pipeline.eval_batches(tiny, "validation", 6))  # 6 + 6 + 4 (+ 2 padding)
  assert [len(b["index"]) for b in batches] == [6, 6, 6]
  mask = np.concatenate([b["mask"] for b in batches])
  np.testing.assert_array_equal(mask, [True] * 16 + [False] * 2)
  index = np.concatenate([b["index"] for b in batches])
  assert sorted(index[mask]) == list(range(16))
  last = batches[-1]
  for k, v in last.items():  # the padding repeats the last real example
    if k != "mask":
      np.testing.assert_array_equal(v[4:], np.repeat(v[3:4], 2, axis=0), err_msg=k)
  # the ground truth passes through unchanged, and no training target is built
  joints = np.concatenate([b["joints"] for b in batches])[mask]
  for i, j in zip(index[mask], joints):
    np.testing.assert_array_equal(j, records[int(i)]["joints"])
  assert not {"heatmaps", "coords", "image_scales"} & set(last)
