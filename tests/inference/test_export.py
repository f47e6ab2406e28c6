"""Export for serving (#19): the jax.export artifact and the TF SavedModel compute what the flax
model computes, at any batch size, run without jaxpose or flax, refuse wrong inputs clearly,
and carry the crop geometry a client needs."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from jaxpose import crops, export, inference
from jaxpose.errors import ConfigError
from conftest import ROOT, TESTS, cli_env



@pytest.fixture(scope="module")
def exported(tmp_path_factory, cache_dir):
  """A tiny hourglass trained for this module, exported from the command line with the flip
  test inside; (workdir, export folder, the flax predictor with the same options)."""
  from conftest import tiny_config
  from jaxpose.training import loop
  workdir = str(tmp_path_factory.mktemp("export_run"))
  loop.train(tiny_config(), workdir)
  out = os.path.join(workdir, "served")
  env = cli_env()
  p = subprocess.run([sys.executable, "-m", "jaxpose.export", f"--workdir={workdir}",
                      f"--out={out}", "--flip"], cwd=ROOT, env=env, capture_output=True,
                     text=True, timeout=600)
  assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
  assert f"wrote {os.path.join(out, export.JAX_FILE)}" in p.stdout
  return workdir, out, inference.Predictor.from_checkpoint(workdir, flip=True)


def _crops(predictor, n, seed=0):
  """n uint8 evaluation crops of validation people (not noise: the heat-map peaks are well
  apart, so argmax decoding is stable), at random boxes around them, and their normalised
  float32 version."""
  import tensorflow_datasets as tfds
  from jaxpose.data import datasets
  cfg = predictor.config
  ds = datasets.builder(cfg.data).as_dataset(
      split=cfg.data.eval_split, shuffle_files=False,
      decoders={"image": tfds.decode.SkipDecoding()})
  rng = np.random.default_rng(seed)
  u8 = []
  for rec in tfds.as_numpy(ds.take(n)):
    image = crops.read_image(rec["image"])
    jitter = rng.uniform(0.9, 1.1)
    crop, _ = crops.crop(image, rec["center"], rec["scale"] * jitter, cfg.data.image_size)
    u8.append(np.round(crop * 255).astype(np.uint8))
  u8 = np.stack(u8)
  return u8, crops.normalise(u8.astype(np.float32) / np.float32(255.0))


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 5])
def test_jax_export_matches_the_flax_model(exported, batch):
  _, out, predictor = exported
  _, x = _crops(predictor, batch, seed=batch)
  served = export.load(out)
  got, want = served(x), predictor.predict_crops(x)
  assert set(got) == set(want) == {"keypoints", "scores"}
  np.testing.assert_allclose(got["keypoints"], want["keypoints"], atol=1e-4)
  np.testing.assert_allclose(got["scores"], want["scores"], atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 5])
def test_saved_model_matches_the_flax_model(exported, batch):
  import tensorflow as tf
  _, out, predictor = exported
  u8, x = _crops(predictor, batch, seed=10 + batch)
  sig = tf.saved_model.load(os.path.join(out, export.SAVED_MODEL_DIR)).signatures["serving_default"]
  got = {k: v.numpy() for k, v in sig(crops=tf.constant(u8)).items()}
  want = predictor.predict_crops(x)
  assert set(got) == set(want)
  np.testing.assert_allclose(got["keypoints"], want["keypoints"], atol=1e-4)
  np.testing.assert_allclose(got["scores"], want["scores"], atol=1e-5)


@pytest.mark.slow
def test_deserialize_needs_only_jax_and_numpy(exported, tmp_path):
  _, out, predictor = exported
  _, x = _crops(predictor, 3, seed=3)
  np.save(tmp_path / "x.npy", x)
  code = textwrap.dedent(f"""
      import sys
      import numpy as np
      import jax
      with open({os.path.join(out, export.JAX_FILE)!r}, "rb") as f:
        exp = jax.export.deserialize(bytearray(f.read()))
      y = exp.call(np.load({str(tmp_path / "x.npy")!r}))
      np.savez({str(tmp_path / "y.npz")!r}, **{{k: np.asarray(v) for k, v in y.items()}})
      assert "flax" not in sys.modules and "jaxpose" not in sys.modules, "imported flax/jaxpose"
      """)
  # The child must not find jaxpose on its path: run it from a neutral folder.
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  p = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=env,
                     capture_output=True, text=True, timeout=300)
  assert p.returncode == 0, p.stderr[-3000:]
  y = np.load(tmp_path / "y.npz")
  want = predictor.predict_crops(x)
  np.testing.assert_allclose(y["keypoints"], want["keypoints"], atol=1e-4)
  np.testing.assert_allclose(y["scores"], want["scores"], atol=1e-5)


@pytest.mark.slow
def test_wrong_inputs_are_refused_clearly(exported):
  import jax
  import tensorflow as tf
  _, out, predictor = exported
  s = int(predictor.config.data.image_size)
  with open(os.path.join(out, export.JAX_FILE), "rb") as f:
    raw = jax.export.deserialize(bytearray(f.read()))
  wrong = np.zeros((2, s + 8, s + 8, 3), np.float32)
  with pytest.raises(ValueError, match=rf"expected \(b, {s}, {s}, 3\)"):
    raw.call(wrong)                                     # jax's own check names the shape
  with pytest.raises(ValueError, match="expected float32"):
    raw.call(np.zeros((2, s, s, 3), np.uint8))
  with pytest.raises(ValueError, match=rf"this export takes \(B, {s}, {s}, 3\) float32"):
    export.load(out)(wrong)
  sig = tf.saved_model.load(os.path.join(out, export.SAVED_MODEL_DIR)).signatures["serving_default"]
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=rf"not compatible with expected shape \[\?,{s},{s},3\]"):
    sig(crops=tf.zeros((2, s + 8, s + 8, 3), tf.uint8))


@pytest.mark.slow
def test_geometry_json_lets_a_client_cut_crops(exported):
  workdir, out, predictor = exported
  with open(os.path.join(out, export.GEOMETRY_FILE)) as f:
    doc = json.load(f)
  cfg = predictor.config
  assert doc["image_size"] == cfg.data.image_size and doc["heatmap_size"] == cfg.data.heatmap_size
  assert doc["scale_pad"] == cfg.data.scale_pad and doc["flip_test"] is True and doc["step"] == 6
  assert doc["joint_names"] == list(predictor.skeleton.joints)
  assert doc["flip_pairs"] == [list(p) for p in predictor.skeleton.flip_pairs]
  assert doc["platforms"] == ["cpu", "cuda"] and doc["family"] == "heatmap"
  from jaxpose.codecs import geometry
  np.testing.assert_allclose(doc["mean"], geometry.MEAN)
  np.testing.assert_allclose(doc["std"], geometry.STD)
  # the written crop rule is the one jaxpose uses
  box = (12.0, 4.0, 60.0, 90.0)
  x1, y1, x2, y2 = box
  center = np.array([(x1 + x2) / 2 - 0.5, (y1 + y2) / 2 - 0.5])
  side = 200 * (max(x2 - x1, y2 - y1) / 200) * doc["scale_pad"]
  size = doc["image_size"]
  crop_pts = np.array([[0.0, 0.0], [size - 1.0, 17.0]])
  image_pts = (crop_pts - (size - 1) / 2) * side / size + center
  c, s = crops.box_to_center_scale(box)
  _, affine = crops.crop(np.zeros((100, 80, 3), np.uint8), c, s, size, doc["scale_pad"])
  np.testing.assert_allclose(crop_pts @ affine[:, :2].T + affine[:, 2], image_pts, atol=1e-4)


def test_coordinate_family_exports_visibility(monkeypatch):
  """Any family exports: a coordinate regressor (random weights) gives joints, score and
  visible, equal to the flax model's."""
  monkeypatch.syspath_prepend(os.path.join(TESTS, "families"))  # test_family_contract.py
  import jax
  from jaxpose.configs import default
  from jaxpose import models
  c = default.get_config()
  c.model = {"name": "test_family_contract:TinyCoordNet", "num_joints": 16}
  c.data.image_size = 32
  variables = models.create(c.model).init(jax.random.PRNGKey(0), np.zeros((1, 32, 32, 3),
                                                                          np.float32))
  predictor = inference.Predictor(c, variables, flip=True)
  exp = export.export_jax(predictor, platforms=("cpu",))
  x = np.random.default_rng(0).normal(size=(3, 32, 32, 3)).astype(np.float32)
  got, want = exp.call(x), predictor.predict_crops(x)
  assert set(got) == {"keypoints", "scores", "visibility"}
  for k in want:
    np.testing.assert_allclose(np.asarray(got[k]), want[k], atol=1e-5)
  assert export.geometry(predictor)["heatmap_size"] is None


def test_multiscale_is_not_exported(exported):
  _, _, predictor = exported
  multi = inference.Predictor(predictor.config, predictor.variables, scales=(0.9, 1.0))
  with pytest.raises(ConfigError, match="multi-scale test is not exported"):
    export.export_jax(multi)
