"""Pose on a user's own images (#19): the numpy crop is the pipeline's crop, ``predict_batch``
reproduces evaluate.py's numbers on the same crops, the path needs no tensorflow, and
``python -m jaxpose.predict`` writes one JSON + PNG per image and skips unreadable ones."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from jaxpose import crops, inference
from jaxpose.codecs import geometry
from conftest import ROOT, TESTS, cli_env



@pytest.fixture(scope="module")
def run(tmp_path_factory, cache_dir):
  """One tiny hourglass trained for this module (6 steps), as tests/test_training.py."""
  from conftest import tiny_config
  from jaxpose.training import loop
  config = tiny_config()
  workdir = str(tmp_path_factory.mktemp("predict_run"))
  loop.train(config, workdir)
  return config, workdir


def _records(config, split):
  """The split's stored records in storage order (the order the eval pipeline batches them),
  images still encoded."""
  import tensorflow_datasets as tfds
  from jaxpose.data import datasets
  ds = datasets.builder(config.data).as_dataset(
      split=split, shuffle_files=False, decoders={"image": tfds.decode.SkipDecoding()})
  return list(tfds.as_numpy(ds))


# ------------------------------------------------------------------------- the crop

def test_numpy_crop_is_the_pipelines_crop():
  """geometry.crop_matrix + crops.warp against their tf twins (geometry.crop_matrix_tf,
  augment.warp) on random images, boxes and augmentations, the antialiasing path included:
  the same float32 values."""
  from jaxpose.data import augment
  rng = np.random.default_rng(0)
  worst = 0.0
  for trial in range(12):
    h, w = (int(v) for v in rng.integers(16, 240, 2))
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    size = int(rng.choice([32, 48, 64]))
    center = rng.uniform([0, 0], [w, h]).astype(np.float32)
    scale = np.float32(rng.uniform(0.05, 2.5))   # up to 10 image pixels per crop pixel
    sf, rot = np.float32(rng.uniform(0.7, 1.3)), np.float32(rng.uniform(-40, 40) * (trial % 2))
    flip = trial % 3 == 0
    translate = np.float32([0.05, -0.03]) * np.float32(trial % 4 == 1)
    params = dict(scale_factor=sf, rotation=rot, shear=np.float32(0.0), flip=flip,
                  translate=translate)
    m_tf = geometry.crop_matrix_tf(center, scale, size, params, scale_pad=1.25).numpy()
    m_np = geometry.crop_matrix(center, scale, size, params, scale_pad=1.25)
    np.testing.assert_array_equal(m_np, m_tf)
    worst = max(worst, float(np.abs(crops.warp(image, m_np, size)
                                    - augment.warp(image, m_tf, size).numpy()).max()))
    assert crops.window(m_np, h, w, size, 3) == tuple(
        int(v) for v in augment.window(m_tf, h, w, size, 3))
  assert worst <= 1e-6, worst  # measured: 0 (bit-identical) with tensorflow 2.21


def test_box_convention():
  """Edge-convention boxes; the whole image of a portrait image is visualize's whole-image
  box; the larger side sets the scale."""
  from jaxpose import visualize
  c, s = crops.box_to_center_scale(crops.whole_image_box(120, 90))
  vc, vs = visualize.whole_image_box(120, 90)
  np.testing.assert_allclose(c, vc)
  assert s == pytest.approx(vs)
  c, s = crops.box_to_center_scale([10, 20, 110, 70])    # wide box: the width counts
  np.testing.assert_allclose(c, [59.5, 44.5])
  assert s == pytest.approx(0.5)
  np.testing.assert_allclose(crops.center_scale_to_box([59.5, 44.5], 0.5), [10, -5, 110, 95])
  with pytest.raises(ValueError, match="x1 < x2"):
    crops.box_to_center_scale([10, 10, 5, 20])
  # the crop of a box sees the box: its corners land inside the crop, its centre mid-crop
  m = geometry.crop_matrix(c, s, 64)
  np.testing.assert_allclose(geometry.apply_affine([c], m)[0], [31.5, 31.5], atol=1e-4)


def test_read_image_kinds(tmp_path):
  rgb = np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8)
  Image.fromarray(rgb).save(tmp_path / "a.png")
  Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.png")
  Image.fromarray(np.dstack([rgb, np.full((9, 7), 128, np.uint8)])).save(tmp_path / "rgba.png")
  np.testing.assert_array_equal(crops.read_image(str(tmp_path / "a.png")), rgb)
  np.testing.assert_array_equal(crops.read_image((tmp_path / "a.png").read_bytes()), rgb)
  np.testing.assert_array_equal(crops.read_image(tmp_path / "rgba.png"), rgb)
  grey = crops.read_image(str(tmp_path / "grey.png"))
  assert grey.shape == (9, 7, 3) and (grey == rgb[..., :1]).all()
  (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
  with pytest.raises(crops.ImageError, match="bad.jpg: cannot read it as an image"):
    crops.read_image(str(tmp_path / "bad.jpg"))
  with pytest.raises(crops.ImageError, match="nope.png: no such file"):
    crops.read_image(str(tmp_path / "nope.png"))


# --------------------------------------------------------------- evaluate.py reproduced

def _reproduce(config, workdir, flip, scales=None):
  """(inference.evaluate's result, predict_batch's predictions, its score, the records)."""
  from jaxpose.evaluation import report
  predictor = inference.Predictor.from_checkpoint(workdir, flip=flip, scales=scales)
  split = config.data.eval_split
  res = inference.evaluate(predictor, split)
  recs = _records(predictor.config, split)
  images = [crops.read_image(r["image"]) for r in recs]
  out = predictor.predict_batch(images, center=np.stack([r["center"] for r in recs]),
                                scale=np.stack([r["scale"] for r in recs]),
                                batch_size=int(config.eval.batch_size))
  order = np.argsort([int(r["index"]) for r in recs], kind="stable")
  mine = {"keypoints": out["keypoints"][order], "scores": out["scores"][order]}
  for k in ("joints", "valid", "norm", "scale", "index"):
    mine[k] = np.stack([np.asarray(recs[i][k]) for i in order])
  mine["visible"] = mine["joints"][..., 2] * mine["valid"]
  scored = report.score(mine, predictor.skeleton, list(config.eval.metrics),
                        scale_pad=float(config.data.scale_pad))
  return res, mine, scored, recs, images


def _assert_same_numbers(res, mine, scored):
  pred = res["_predictions"]
  np.testing.assert_array_equal(mine["index"], pred["index"])
  np.testing.assert_allclose(mine["keypoints"], pred["keypoints"], atol=1e-4)
  np.testing.assert_allclose(mine["scores"], pred["scores"], atol=1e-6)
  for title, cols in res["metrics"].items():
    for col, value in cols.items():
      assert scored["metrics"][title][col] == pytest.approx(value, abs=1e-6, nan_ok=True), \
          (title, col)


@pytest.mark.slow
def test_predict_batch_reproduces_evaluate(run):
  """The issue's "done when": evaluate.py's numbers through predict_batch on the decoded full
  images and the records' centre/scale — crops identical to the pipeline's, same PCKh."""
  from jaxpose.data import pipeline
  config, workdir = run
  res, mine, scored, recs, images = _reproduce(config, workdir, flip=True)
  _assert_same_numbers(res, mine, scored)
  n = len(recs)
  batch = next(pipeline.eval_batches(config, config.data.eval_split, n))
  for i in range(n):  # the crop and the affine themselves, in the pipeline's storage order
    crop, affine = crops.crop(images[i], recs[i]["center"], recs[i]["scale"],
                              config.data.image_size, config.data.scale_pad)
    np.testing.assert_allclose(crops.normalise(crop), batch["image"][i], atol=1e-6)
    np.testing.assert_allclose(affine, batch["affine"][i], atol=1e-6)


@pytest.mark.slow
def test_predict_batch_reproduces_the_multiscale_test(run):
  config, workdir = run
  res, mine, scored, _, _ = _reproduce(config, workdir, flip=False, scales=(0.8, 1.0, 1.3))
  assert res["scales"] == [0.8, 1.0, 1.3]
  _assert_same_numbers(res, mine, scored)


@pytest.mark.slow
def test_one_compilation_per_batch_size(run):
  _, workdir = run
  predictor = inference.Predictor.from_checkpoint(workdir)
  rng = np.random.default_rng(0)
  images = [rng.integers(0, 256, (int(rng.integers(40, 90)), 60, 3), dtype=np.uint8)
            for _ in range(7)]
  a = predictor.predict_batch(images[:3], batch_size=4)
  b = predictor.predict_batch(images, batch_size=4)       # 4 + 3 (padded)
  assert predictor._final._cache_size() == 1
  np.testing.assert_allclose(a["keypoints"], b["keypoints"][:3], atol=1e-4)
  assert b["keypoints"].shape == (7, 16, 2) and b["scores"].shape == (7, 16)
  assert "visibility" not in b and len(b["joint_names"]) == 16
  one = predictor.predict_image(images[5])
  np.testing.assert_allclose(one["keypoints"], b["keypoints"][5], atol=1e-4)
  np.testing.assert_allclose(one["box"], [0, 0, 60, images[5].shape[0]])
  with pytest.raises(ValueError, match="2 boxes for 3 images"):
    predictor.predict_batch(images[:3], [None, None])


@pytest.mark.slow
def test_predict_batch_on_two_devices(run, tmp_path):
  """Batches split over every local device (2 forced host devices here), the batch size
  rounded up to a multiple of them, the same poses as on one device."""
  _, workdir = run
  rng = np.random.default_rng(4)
  images = [rng.integers(0, 256, (70, 50, 3), dtype=np.uint8) for _ in range(3)]
  np.save(tmp_path / "images.npy", np.stack(images))
  code = textwrap.dedent(f"""
      import numpy as np
      import jaxpose.inference as inference
      p = inference.Predictor.from_checkpoint({workdir!r})
      assert p.n_dev == 2, p.n_dev
      out = p.predict_batch(list(np.load({str(tmp_path / "images.npy")!r})), batch_size=3)
      assert p._final._cache_size() == 1
      np.save({str(tmp_path / "two.npy")!r}, out["keypoints"])
      """)
  env = cli_env(XLA_FLAGS="--xla_force_host_platform_device_count=2")
  proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  one = inference.Predictor.from_checkpoint(workdir).predict_batch(images, batch_size=4)
  np.testing.assert_allclose(np.load(tmp_path / "two.npy"), one["keypoints"], atol=1e-3)


@pytest.mark.slow
def test_visibility_of_a_coordinate_family(monkeypatch):
  """A coordinate regressor's presence probabilities come back as ``visibility`` (the network
  from outside the package of tests/families/test_family_contract.py)."""
  import jax
  monkeypatch.syspath_prepend(os.path.join(TESTS, "families"))
  from jaxpose.configs import default
  from jaxpose import models
  c = default.get_config()
  c.model = {"name": "test_family_contract:TinyCoordNet", "num_joints": 16}
  c.data.image_size = 32
  model = models.create(c.model)
  variables = model.init(jax.random.PRNGKey(0), np.zeros((1, 32, 32, 3), np.float32))
  predictor = inference.Predictor(c, variables)
  image = np.random.default_rng(1).integers(0, 256, (50, 40, 3), dtype=np.uint8)
  out = predictor.predict_image(image, box=(5, 5, 35, 45))
  vis = out["visibility"]
  assert vis.shape == (16,) and ((vis > 0) & (vis < 1)).all()
  np.testing.assert_array_equal(out["scores"], out["visibility"])
  assert out["scale"] == pytest.approx(0.2)


@pytest.mark.slow
def test_predict_image_needs_no_tensorflow(run, tmp_path):
  _, workdir = run
  image = np.random.default_rng(2).integers(0, 256, (80, 60, 3), dtype=np.uint8)
  path = str(tmp_path / "person.png")
  Image.fromarray(image).save(path)
  code = textwrap.dedent(f"""
      import json, sys
      import jaxpose.inference as inference
      p = inference.Predictor.from_checkpoint({workdir!r})
      a = p.predict_image({path!r})
      b = p.predict_image({path!r}, box=(5, 10, 55, 70))
      assert "tensorflow" not in sys.modules, "tensorflow was imported"
      print(json.dumps({{"a": a["keypoints"].tolist(), "b": b["keypoints"].tolist()}}))
      """)
  env = cli_env()
  proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  got = json.loads(proc.stdout.strip().splitlines()[-1])
  predictor = inference.Predictor.from_checkpoint(workdir)
  np.testing.assert_allclose(got["a"], predictor.predict_image(image)["keypoints"], atol=1e-4)
  np.testing.assert_allclose(got["b"], predictor.predict_image(image, (5, 10, 55, 70))["keypoints"],
                             atol=1e-4)


# ----------------------------------------------------------------------------- the CLI

def _cli(args, check_rc=None):
  env = cli_env()
  p = subprocess.run([sys.executable, "-m", "jaxpose.predict", *args], cwd=ROOT, env=env,
                     capture_output=True, text=True, timeout=600)
  if check_rc is not None:
    assert p.returncode == check_rc, p.stdout[-2000:] + p.stderr[-3000:]
  return p


@pytest.mark.slow
def test_cli_writes_json_and_overlay_and_skips_unreadable_images(run, tmp_path):
  _, workdir = run
  rng = np.random.default_rng(3)
  folder = tmp_path / "photos"
  (folder / "sub").mkdir(parents=True)
  a = rng.integers(0, 256, (90, 70, 3), dtype=np.uint8)
  b = rng.integers(0, 256, (60, 100, 3), dtype=np.uint8)
  Image.fromarray(a).save(folder / "a.png")
  Image.fromarray(b).save(folder / "sub" / "b.png")
  (folder / "broken.png").write_bytes(b"\x89PNG truncated")
  boxes = tmp_path / "boxes.json"
  boxes.write_text(json.dumps({"a.png": [5, 5, 65, 85], "sub/b.png": None, "broken.png": None}))
  out = tmp_path / "out"
  p = _cli([str(folder), "--recursive", f"--workdir={workdir}", f"--boxes={boxes}",
            f"--out={out}", "--batch_size=2"], check_rc=1)
  assert "broken.png" in p.stderr and "1 of 3 images could not be read" in p.stderr
  assert "Traceback" not in p.stderr
  doc = json.loads((out / "a.json").read_text())
  assert doc["box"] == [5, 5, 65, 85] and doc["step"] == 6 and doc["image_size"] == [70, 90]
  assert doc["checkpoint"].endswith(os.path.join("checkpoints", "6"))
  assert len(doc["keypoints"]) == len(doc["joint_names"]) == 16
  assert all(len(k) == 3 for k in doc["keypoints"])
  # the CLI's first batch: a, then the unreadable image skipped, padded to 2 with a copy of a
  want = inference.Predictor.from_checkpoint(workdir).predict_batch([a], [(5, 5, 65, 85)],
                                                                    batch_size=2)
  np.testing.assert_allclose(np.array(doc["keypoints"])[:, :2], want["keypoints"][0], atol=1e-3)
  np.testing.assert_allclose(np.array(doc["keypoints"])[:, 2], want["scores"][0], atol=1e-5)
  sub = json.loads((out / "sub" / "b.json").read_text())
  assert sub["box"] == [0, 0, 100, 60]
  for png in (out / "a.png", out / "sub" / "b.png"):
    assert Image.open(png).size == Image.open(folder / png.relative_to(out)).size
  assert not (out / "broken.json").exists()


@pytest.mark.slow
def test_cli_user_errors_are_one_line(run, tmp_path):
  _, workdir = run
  Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x.png")
  for args, message in (
      ([str(tmp_path / "x.png"), f"--workdir={tmp_path / 'none'}"], "no checkpoints/ folder"),
      ([str(tmp_path / "nothere.png"), f"--workdir={workdir}"], "no such file or folder"),
      ([str(tmp_path / "x.png"), f"--workdir={workdir}", "--box=1,2,3"], "expected x1,y1,x2,y2"),
      ([str(tmp_path / "x.png"), f"--workdir={workdir}", "--box=5,5,1,1"], "x1 < x2")):
    p = _cli(args, check_rc=2)
    assert message in p.stderr and "Traceback" not in p.stderr, p.stderr[-2000:]
