"""Multi-scale test (Tang & Wu 2019 §4.2): scale parsing, the exact heat-map resampling between
crops, the pyramid crops + merge on a dot image, and the single-scale path left bit-identical."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpose import inference
from jaxpose.codecs import geometry
from jaxpose.codecs import heatmap as heatmap_codec


@pytest.mark.parametrize("text, message", [
    ("", "empty"), (" , ", "empty"), ("0.8,,1.0", "empty entry"), ("0.8,-1", "> 0"),
    ("0", "> 0"), ("a,1.0", "not a number"), ("nan", "finite"), ("1,inf", "finite")])
def test_bad_scales_are_clear_errors(text, message):
  with pytest.raises(ValueError, match=message):
    inference.parse_scales(text)


def test_scales_parse_and_validate():
  assert inference.parse_scales(" 0.8, 1.0 ,1.3") == (0.8, 1.0, 1.3)
  assert inference.parse_scales("1") == (1.0,)
  assert heatmap_codec.check_scales([1, 0.5]) == (1.0, 0.5)
  assert inference.PYRAMID_SCALES == (0.8, 0.9, 1.0, 1.1, 1.2, 1.3)
  with pytest.raises(ValueError, match="sequence"):
    heatmap_codec.check_scales("1.0")
  with pytest.raises(ValueError, match="empty"):
    heatmap_codec.check_scales(())


def _centroid(hm, radius=6):
  """Sub-pixel peak of one (h, w) map: intensity centroid in a window around the argmax."""
  y, x = np.unravel_index(np.argmax(hm), hm.shape)
  y0, y1 = max(0, y - radius), min(hm.shape[0], y + radius + 1)
  x0, x1 = max(0, x - radius), min(hm.shape[1], x + radius + 1)
  win = np.clip(hm[y0:y1, x0:x1], 0, None)
  yy, xx = np.mgrid[y0:y1, x0:x1]
  return np.array([(win * xx).sum(), (win * yy).sum()]) / win.sum()


@pytest.mark.parametrize("s", [0.5, 0.8, 0.9, 1.1, 1.3, 2.0])
def test_from_scale_puts_a_gaussian_peak_where_the_affine_maps_it(s):
  """Render a joint's Gaussian in the scale-s crop's heat map, resample it into the scale-1
  frame: its peak lies where the two crop matrices say (within 0.25 heat-map px)."""
  import tensorflow as tf
  from jaxpose.data import augment

  size, hsize = 64, 32
  center, scale = np.array([137.3, 92.6]), 0.9          # box side 200 · 0.9 · 1.25 = 225 px
  half = 0.5 * 225 * min(s, 1.0)
  rng = np.random.default_rng(int(s * 10))
  for _ in range(4):
    point = center + rng.uniform(-0.55, 0.55, 2) * half   # well inside both crops
    m_s = geometry.crop_matrix_tf(center, scale, size, dict(
        augment.identity_params(), scale_factor=tf.constant(s, tf.float32)))
    m_1 = geometry.crop_matrix_tf(center, scale, size)
    x_s = geometry.apply_affine_tf(tf.constant(point[None], tf.float32), m_s)
    x_1 = geometry.apply_affine_tf(tf.constant(point, tf.float32), m_1).numpy()
    hm_s, _ = heatmap_codec.encode(x_s, tf.ones([1]), size, hsize, sigma=2.0)
    hm_s = hm_s.numpy()
    out, cover = heatmap_codec.from_scale(hm_s[None], s)
    expected = (x_1 + 0.5) * hsize / size - 0.5
    found = _centroid(out[0, :, :, 0])
    assert np.linalg.norm(found - expected) < 0.25, (s, point, found, expected)
    assert cover.shape == (hsize, hsize) and set(np.unique(cover)) <= {0.0, 1.0}
    # the jax path (as run by the Predictor under jit) is the same resampling
    out_j, _ = jax.jit(lambda h: heatmap_codec.from_scale(h, s))(jnp.asarray(hm_s[None]))
    np.testing.assert_allclose(np.asarray(out_j), out, atol=1e-6)


def test_merge_averages_only_over_the_scales_that_saw_a_pixel():
  ones = np.ones((1, 16, 16, 2), np.float32)
  merged = heatmap_codec.merge_scales([ones, 3 * ones], (0.8, 1.0))
  _, cover = heatmap_codec.from_scale(ones, 0.8)
  assert cover[0, 0] == 0 and cover[8, 8] == 1          # the tighter box misses the border
  np.testing.assert_allclose(merged[0, 0, 0], 3.0)       # only scale 1 saw it
  np.testing.assert_allclose(merged[0, 8, 8], 2.0)       # both did
  np.testing.assert_array_equal(heatmap_codec.merge_scales([ones], (1.0,)), ones)


def test_pyramid_crops_and_merge_find_dots_in_the_image(config):
  """Through the real crops (augment.scale_crops) and Predictor.joints, with a 'network' that
  average-pools the image into heat maps: three coloured dots come back at their image
  positions at every scale set. A scale convention mixed up anywhere moves them by 10+ px."""
  import tensorflow as tf
  from jaxpose.data import augment

  size, hsize = 64, 32
  config.data.image_size, config.data.heatmap_size = size, hsize
  yy, xx = np.mgrid[0:240, 0:200].astype(np.float32)
  center, scale = np.array([101.2, 118.7]), 0.64          # box side 160 image px
  dots = center + np.array([[-40.3, -30.6], [35.4, 10.2], [5.7, 45.1]])
  image = np.stack([np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 4.0 ** 2)) for x, y in dots], -1)
  affine = geometry.invert_tf(geometry.crop_matrix_tf(center, scale, size))[:2].numpy()

  def pool(variables, images):                             # (B, 64, 64, 3) → (B, 32, 32, 3)
    b = images.shape[0]
    return images.reshape(b, hsize, 2, hsize, 2, 3).mean(axis=(2, 4))

  for scales in [(1.0,), (0.8, 1.0, 1.3), inference.PYRAMID_SCALES, (0.7, 1.5)]:
    crops = augment.scale_crops(tf.constant(image), center, scale, size, scales).numpy()
    plain = augment.scale_crops(tf.constant(image), center, scale, size, (1.0,)).numpy()
    batch = {"image": plain, "image_scales": crops[None], "affine": affine[None]}
    p = inference.Predictor(config, {}, scales=scales)
    p._final = jax.jit(lambda v, x: {"heatmaps": pool(v, x)})  # the network replaced
    out = p.predict(batch)
    pred, maxvals = out["keypoints"], out["scores"]
    err = np.linalg.norm(pred[0] - dots, axis=-1)
    assert np.all(err < 2.0), (scales, err)               # 1 heat-map px = 5 image px
    assert np.all(maxvals > 0)


def _init(config):
  from jaxpose import models
  model = models.create(config.model)
  size = int(config.data.image_size)
  return model, model.init(jax.random.PRNGKey(1), jnp.zeros((1, size, size, 3)), train=False)


@pytest.mark.slow
def test_single_scale_is_the_unchanged_path_and_pyramid_runs_with_flip(config):
  from jaxpose.data import pipeline
  from jaxpose.evaluation import report

  model, variables = _init(config)
  split = config.data.eval_split
  # the path as it was before multi-scale existed: plain crops → network → decode → image
  predict = jax.jit(lambda v, x: model.apply(v, x, train=False)["heatmaps"][-1])
  size = int(config.data.image_size)
  codec = heatmap_codec.HeatmapCodec.from_config(config.data, config.eval.subpixel)
  ref, index = [], []
  for batch in pipeline.eval_batches(config, split, 8):
    assert "image_scales" not in batch
    crop, _ = codec.decode(np.asarray(predict(variables, batch["image"])))
    ref.append(np.asarray(geometry.to_image(crop, batch["affine"]))[batch["mask"]])
    index.append(batch["index"][batch["mask"]])
  ref = np.concatenate(ref)[np.argsort(np.concatenate(index), kind="stable")]

  single = inference.predict_split(inference.Predictor(config, variables), split, batch_size=8)
  # the same up to float32 rounding: DARK's blur and log run in numpy here, under XLA there
  np.testing.assert_allclose(single["keypoints"], ref, rtol=0, atol=1e-4)
  # two scale-1 "pyramid levels": the pyramid crops, the resampling and the mean are exact
  twice = inference.predict_split(inference.Predictor(config, variables, scales=(1.0, 1.0)),
                                  split, batch_size=8)
  np.testing.assert_array_equal(twice["keypoints"], single["keypoints"])

  p = inference.Predictor(config, variables, flip=True, scales=(0.8, 1.0, 1.3))
  assert p.config.eval.scales == (0.8, 1.0, 1.3) and tuple(config.eval.scales) == (1.0,)
  batch = next(pipeline.eval_batches(p.config, split, 8, inputs=p.eval_inputs()))
  assert batch["image_scales"].shape == (8, 3, size, size, 3)
  np.testing.assert_array_equal(batch["image_scales"][:, 1], batch["image"])
  results = inference.evaluate(p, split)
  assert np.all(np.isfinite(results["_predictions"]["keypoints"]))
  assert not np.array_equal(results["_predictions"]["keypoints"], ref)
  doc = report.json_doc(results)
  assert doc["flip"] is True and doc["scales"] == [0.8, 1.0, 1.3]
  assert "flip test on, scales 0.8,1,1.3" in report.format_results(results).splitlines()[0]
  with pytest.raises(ValueError, match="image_scales"):
    p.predict({"image": batch["image"], "affine": batch["affine"]})
