"""DeepPose's cascade end to end (issue #16): stage 1 trains as a coordinate regressor, stage 2
reads it (its predictions on the training set and their error model), trains its own network on
sub-images and leaves stage 1 untouched; evaluate.py on the last workdir runs the whole cascade
(or its first t stages); a refining stage without its previous run is a clear error."""
import os
import subprocess
import sys

import ml_collections
import numpy as np
import pytest

from jaxpose import configs
from jaxpose.configs import default
from jaxpose import checkpoint, inference
from jaxpose.codecs import cascade
from jaxpose.training import loop
from conftest import ROOT, cli_env

TINY = dict(width_mult=1 / 16, fc_features=(32, 32), stem_stride=2, batch_norm=True,
            dropout_rate=0.0)  # the CPU recipe's layers (common.regressor_cpu_budget)


def _stage(stage, workdir_prev=""):
  from conftest import tiny_budget
  c = default.get_config()
  c.model = ml_collections.ConfigDict({"name": "alexnet", "num_joints": 16, "regression": True,
                                       "visibility": False, "regression_layers": 2, **TINY})
  c = tiny_budget(c)
  c.data.image_size = 72
  c.train.optimizer = "adam"
  c.train.num_steps = 4
  c.train.eval_every = 4
  c.train.checkpoint_every = 4
  c.eval.metrics = ("pck@0.2", "pcp@0.5")
  c.eval.stage = 0
  c.cascade = ml_collections.ConfigDict({"num_stages": 2, "stage": stage, "sigma": 1.0,
                                         "simulated": 0.5, "previous": workdir_prev,
                                         "canvas": 128, "canvas_margin": 1.5})
  return c


@pytest.fixture(scope="module")
def two_stages(tmp_path_factory, cache_dir):
  base = tmp_path_factory.mktemp("deeppose")
  s1, s2 = str(base / "s1"), str(base / "s2")
  loop.train(_stage(1), s1)
  before = inference.restore(s1)[1]
  results = loop.train(_stage(2, s1), s2)
  return s1, s2, before, results


@pytest.mark.slow
def test_stage_two_trains_on_stage_one_and_leaves_it_frozen(two_stages):
  s1, s2, before, results = two_stages
  after = inference.restore(s1)[1]
  for a, b in zip(jax_leaves(before), jax_leaves(after)):
    np.testing.assert_array_equal(a, b)
  assert checkpoint.manager(s1, read_only=True).all_steps() == [4]
  table = np.load(os.path.join(s2, "cascade_table.npz"))
  assert table["prev"].shape == (48, 16, 2) and table["chol"].shape == (16, 2, 2)
  assert "PCK@0.2" in results["metrics"]  # validated as a cascade
  cfg = checkpoint.restore_config(checkpoint.manager(s2, read_only=True), 4)
  assert cfg.cascade.previous == s1  # stored absolute


def jax_leaves(tree):
  import jax
  return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


@pytest.mark.slow
def test_cascade_predicts_stage_by_stage(two_stages, cache_dir):
  s1, s2, _, _ = two_stages
  full = inference.load(s2)
  first = inference.load(s2, stage=1)
  assert isinstance(full, inference.CascadePredictor) and full.num_stages == 2
  assert first.num_stages == 1 and first.eval_inputs() == ()
  assert inference.cascade.FULL_IMAGE in full.eval_inputs()
  r2 = inference.predict_split(full, "validation")
  r1 = inference.predict_split(first, "validation")
  plain = inference.predict_split(inference.load(s1), "validation")
  np.testing.assert_allclose(r1["keypoints"], plain["keypoints"], atol=1e-4)  # stage 1 = its own run
  assert np.all(np.isfinite(r2["keypoints"])) and not np.allclose(r2["keypoints"], r1["keypoints"])
  # stage 2 moves each joint by at most the reach of its box: half the side in each axis
  sides = cascade.torso_diameter(r1["keypoints"], full.skeleton) * 1.0
  moved = np.abs(r2["keypoints"] - r1["keypoints"])
  assert np.all(moved <= sides[:, None, None] * 0.75 + 1e-3)


@pytest.mark.slow
def test_evaluate_runs_the_cascade_from_the_last_workdir(two_stages, cache_dir):
  _, s2, _, _ = two_stages
  env = cli_env(cache_dir)
  out = {}
  for stage in ("1", "0"):
    p = subprocess.run([sys.executable, "evaluate.py", f"--workdir={s2}", f"--stage={stage}",
                        f"--output={s2}/eval_{stage}.json"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "PCK@0.2" in p.stdout and "PCP@0.5" in p.stdout
    out[stage] = p.stdout
  assert out["1"] != out["0"]


@pytest.mark.slow
def test_a_refining_stage_without_its_previous_run_is_a_clear_error(tmp_path):
  with pytest.raises(checkpoint.CheckpointError, match="no trained stage 1 there"):
    loop.train(_stage(2, str(tmp_path / "missing")), str(tmp_path / "s2"))
  with pytest.raises(Exception, match="needs cascade.previous"):
    loop.train(_stage(2, ""), str(tmp_path / "s2b"))


def test_recipes_chain_their_stages():
  import importlib
  m = importlib.import_module("configs.deeppose_lsp_cpu")
  assert m.get_config("1").cascade.previous == ""
  assert m.get_config("3").cascade.previous == "runs/deeppose_lsp_cpu_s2"
  assert m.get_config("2").data.image_size == 72 and m.get_config("1").data.image_size == 112
  with pytest.raises(ValueError, match="expected one of"):
    m.get_config("0")
