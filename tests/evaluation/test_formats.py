"""The official MPII files have one module (``jaxpose.formats.mpii``: one ``GtValid``, one
``SC_BIAS``) below both bottom layers, which do not import each other; a predictions file
is scored by one function (``evaluation.mpii_format.evaluate_files``) against either an
official ``gt_valid.mat`` or a split's annotations."""
import ast
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jaxpose.data import sources
from jaxpose.errors import DataError
from jaxpose.evaluation import mpii_format
from jaxpose.formats import mpii as official
from conftest import ROOT, cli_env

PKG = os.path.join(ROOT, "jaxpose")


def _modules(sub):
  for dirpath, _, files in os.walk(os.path.join(PKG, sub)):
    for f in files:
      if f.endswith(".py"):
        path = os.path.join(dirpath, f)
        with open(path) as fh:
          yield os.path.relpath(path, PKG), ast.parse(fh.read())


def _imports(tree):
  """Every module a file imports, at the top or inside functions."""
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      yield from (a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0:
      yield node.module


def test_data_and_evaluation_do_not_import_each_other():
  for rel, tree in _modules("data"):
    bad = [m for m in _imports(tree) if m.startswith("jaxpose.evaluation")]
    assert not bad, (rel, bad)
  for rel, tree in _modules("evaluation"):
    bad = [m for m in _imports(tree) if m.startswith("jaxpose.data")]
    assert not bad, (rel, bad)


def test_formats_sit_below_both():
  allowed = ("numpy", "scipy", "h5py", "PIL", "jaxpose.skeleton", "jaxpose.formats", "__future__",
             "dataclasses", "os", "typing")
  for rel, tree in _modules("formats"):
    for m in _imports(tree):
      assert m.startswith(allowed), (rel, m)


def test_one_gt_valid_and_one_sc_bias():
  defined = []
  for sub in ("data", "evaluation", "formats"):
    for rel, tree in _modules(sub):
      for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "GtValid":
          defined.append((rel, "GtValid"))
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "SC_BIAS" for t in node.targets):
          defined.append((rel, "SC_BIAS"))
  assert sorted(defined) == [(os.path.join("formats", "mpii.py"), "GtValid"),
                             (os.path.join("formats", "mpii.py"), "SC_BIAS")]
  assert issubclass(official.FormatError, DataError)


def _people(rng, n):
  """MPII people-json entries (validation) and their 0-based joints."""
  out = []
  for i in range(n):
    j = np.concatenate([rng.uniform(60, 240, size=(16, 2)), np.ones((16, 1))], axis=1)
    j[i % 16, 2] = 0  # one occluded joint each
    out.append({"img_paths": f"{i}.jpg", "joint_self": j.round(3).tolist(),
                "objpos": [150.0, 150.0], "scale_provided": 1.2, "isValidation": 1.0})
  return out


@pytest.fixture
def mpii_root(tmp_path):
  """A tiny MPII folder: people json and a gt_valid.mat in the same validation order."""
  people = _people(np.random.default_rng(3), 5)
  root = tmp_path / "mpii"
  root.mkdir()
  with gzip.open(root / "mpii_annotations.json.gz", "wt") as f:
    json.dump(people, f)
  gt = np.array([p["joint_self"] for p in people])[:, :, :2] - 1
  boxes = np.stack([gt[:, 9] - 15, gt[:, 9] + 25], axis=1)
  official.write_gt_valid(str(root / "gt_valid.mat"), gt, np.ones((5, 16)), boxes)
  return root, gt, boxes


def test_the_reader_takes_head_boxes_from_the_one_gt_valid(mpii_root):
  root, gt, boxes = mpii_root
  recs = sources.read_split("mpii", "validation", str(root))
  table = official.read_gt_valid(str(root / "gt_valid.mat"))
  np.testing.assert_allclose(np.stack([r.head_box for r in recs]), table.head_box)
  np.testing.assert_allclose(table.head_box, boxes.reshape(5, 4), atol=1e-6)
  np.testing.assert_allclose([r.norm for r in recs], table.norm)


def test_one_scoring_path_for_gt_file_and_annotations(mpii_root, tmp_path):
  root, gt, _ = mpii_root
  # Off by a few pixels: records hold float32 joints, so an exact hit on the float64 file
  # would fall either side of the α = 0 threshold of the AUC.
  preds = gt + np.random.default_rng(1).normal(0, 3, gt.shape)
  preds[2, 0] += 80.0
  pred_path = official.write_predictions(str(tmp_path / "preds.mat"), preds)
  from_file = mpii_format.evaluate_files(pred_path, str(root / "gt_valid.mat"))
  truth = official.GtValid.from_records(sources.read_split("mpii", "validation", str(root)))
  from_records = mpii_format.evaluate_files(pred_path, truth)
  assert from_file["metrics"] == from_records["metrics"]
  assert from_file["num_examples"] == from_records["num_examples"] == 5
  assert from_file["metrics"]["PCKh@0.5"]["Ankle"] == pytest.approx(90.0)  # 1 of 10 wrong
  # The annotations carry visibility flags, so the occlusion metric can be scored from them.
  occluded = mpii_format.evaluate_files(pred_path, truth, ["pckh_occluded@0.5"])
  assert np.isfinite(occluded["metrics"]["PCKh-occluded@0.5"]["Total"])
  with pytest.raises(official.FormatError, match=r"preds.mat: 5 predictions, but mpii/validation "
                                                 r"has 4 people"):
    mpii_format.evaluate_files(pred_path, official.GtValid(
        truth.gt[:4], truth.valid[:4], truth.norm[:4], truth.headboxes[:4]),
        source="mpii/validation")
  from jaxpose import skeleton as skel
  with pytest.raises(official.FormatError, match="16 joints per person"):
    mpii_format.evaluate_files(pred_path, truth, skeleton=skel.LSP)


def test_evaluate_cli_scores_predictions_against_the_split(mpii_root, tmp_path, cache_dir):
  """evaluate.py --predictions without --gt: the split's annotations, same numbers."""
  root, gt, _ = mpii_root
  pred_path = official.write_predictions(str(tmp_path / "preds.h5"), gt + 3.0)
  out_path = str(tmp_path / "eval.json")
  env = cli_env(cache_dir)
  p = subprocess.run([sys.executable, "evaluate.py", f"--predictions={pred_path}",
                      "--dataset=mpii", "--split=val", f"--data_root={root}",
                      f"--output={out_path}"], cwd=ROOT, env=env, capture_output=True,
                     text=True, timeout=300)
  assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
  with open(out_path) as f:
    doc = json.load(f)
  want = mpii_format.evaluate_files(pred_path, str(root / "gt_valid.mat"))
  assert doc["split"] == "validation" and doc["num_examples"] == 5
  assert doc["metrics"]["PCKh@0.5"]["Total"] == pytest.approx(want["metrics"]["PCKh@0.5"]["Total"])
  # A file for another number of people is a user error naming both sides.
  official.write_predictions(pred_path, gt[:3])
  p = subprocess.run([sys.executable, "evaluate.py", f"--predictions={pred_path}",
                      "--split=valid", f"--data_root={root}"], cwd=ROOT, env=env,
                     capture_output=True, text=True, timeout=300)
  assert p.returncode == 2 and "error: " in p.stderr  # a user error: one line, no traceback
  assert "3 predictions, but mpii/validation has 5 people" in p.stderr
