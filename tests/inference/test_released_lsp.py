"""The released LSP model that ships in the package (#38): it loads and predicts on a picture
with no dataset anywhere, from the command line and from Python alike; its card and manifest
state the same check figure; and, with LSP present, its PCK@0.2 on the first 100 LSP test
images is that figure to 0.1."""
import json
import os

import numpy as np
import pytest

from jaxpose import inference, zoo
from conftest import DATA, run_cli

MAX_BYTES = 10 * 2**20  # the one checkpoint the repository may hold: at most 10 MB


def _manifest() -> dict:
  return json.load(open(os.path.join(zoo.folder("lsp"), "manifest.json")))


def test_lsp_ships_with_its_card_and_check_figure():
  assert "lsp" in zoo.names()
  where = zoo.folder("lsp")
  assert os.path.getsize(os.path.join(where, "variables.msgpack")) <= MAX_BYTES
  check = _manifest()["check"]
  assert check["command"].startswith("python evaluate.py --pretrained=lsp ")
  card = open(os.path.join(where, "MODEL_CARD.md")).read()
  assert check["command"] in card
  assert f"{check['pck@0.2']:.1f}" in card  # the card states the figure the test checks


def _picture(path):
  """A picture no one trained on: a bright figure-like shape on a textured background."""
  from PIL import Image, ImageDraw
  rng = np.random.default_rng(0)
  im = Image.fromarray(rng.integers(60, 120, (300, 220, 3), np.uint8))
  d = ImageDraw.Draw(im)
  d.ellipse((95, 20, 125, 50), fill=(220, 180, 150))
  for line in (((110, 50), (110, 160)), ((110, 70), (70, 120)), ((110, 70), (150, 120)),
               ((110, 160), (85, 270)), ((110, 160), (135, 270))):
    d.line(line, fill=(30, 60, 200), width=14)
  im.save(path)
  return np.asarray(im)


@pytest.mark.slow
def test_predict_without_a_workdir_or_any_dataset(tmp_path, cache_dir):
  """``python -m jaxpose.predict photo.png`` from a folder outside the checkout, with the data
  root pointing nowhere: the released model, one line saying so, 14 finite keypoints on the
  picture, the overlay PNG, and exactly what ``Predictor.pretrained("lsp")`` gives in Python."""
  image = _picture(tmp_path / "photo.png")
  p = run_cli(["-m", "jaxpose.predict", "photo.png", "--out=poses"], cache_dir, cwd=str(tmp_path),
              JAXPOSE_DATA=str(tmp_path / "no_data_here"))
  assert sum("using the released model 'lsp'" in line for line in p.output.splitlines()) == 1
  got = json.load(open(tmp_path / "poses" / "photo.json"))
  kp = np.asarray(got["keypoints"], np.float64)
  assert kp.shape == (14, 3) and np.isfinite(kp).all()
  assert got["joint_names"][0] == "r_ankle" and got["flip"] is True
  h, w = image.shape[:2]
  assert ((kp[:, 0] > -0.5) & (kp[:, 0] < w) & (kp[:, 1] > -0.5) & (kp[:, 1] < h)).all()
  assert os.path.getsize(tmp_path / "poses" / "photo.png") > 0
  want = inference.Predictor.pretrained("lsp").predict_image(image)
  np.testing.assert_allclose(kp[:, :2], want["keypoints"], atol=1e-3)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(os.path.join(DATA, "lsp")), reason="LSP not present")
def test_first_100_lsp_test_images_score_what_the_card_says():
  check = _manifest()["check"]
  # what ``check["command"]`` (evaluate.py --pretrained=lsp --dataset=lsp --limit=100) asks for
  predictor = inference.Predictor.pretrained(
      "lsp", flip=True, data_overrides={"name": "lsp", "root": "", "skeleton": "", "limit": 100})
  results = inference.evaluate(predictor, "test", metrics=["pck@0.2"])
  assert results["num_examples"] == 100
  got = results["metrics"]["PCK@0.2"]["Total"]
  assert abs(got - check["pck@0.2"]) <= 0.1, (got, check)
