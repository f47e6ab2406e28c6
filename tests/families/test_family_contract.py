"""The family contract: a coordinate-regression network defined here, outside the library,
trains, checkpoints, evaluates (PCK and visibility accuracy) and draws an overlay from the
command line with nothing in inference, evaluation or visualize written for it."""
import json
import os
import subprocess
import sys
import textwrap

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ROOT, TESTS, run_cli


HERE = os.path.dirname(os.path.abspath(__file__))
# the network below and the tiny budget of conftest, for the config file the test writes
_PYTHONPATH = os.pathsep.join([HERE, TESTS, os.environ.get("PYTHONPATH", "")])


class TinyCoordNet(nn.Module):
  """conv + dense → ``coords`` (one stage) and ``visibility_logits``: the coordinate family's
  output contract (DESIGN.md, model outputs)."""
  family = "coords"
  num_joints: int = 16
  features: int = 8
  dtype: jnp.dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = nn.Conv(self.features, (3, 3), strides=(4, 4), dtype=self.dtype)(x)
    x = nn.BatchNorm(use_running_average=not train, axis_name=self.bn_axis_name)(x)
    x = nn.relu(x).reshape(x.shape[0], -1)
    h = nn.relu(nn.Dense(32, dtype=self.dtype)(x))
    coords = nn.sigmoid(nn.Dense(self.num_joints * 2)(h)).reshape(-1, self.num_joints, 2)
    return {"coords": (coords.astype(jnp.float32),),
            "visibility_logits": nn.Dense(self.num_joints)(h).astype(jnp.float32)}


CONFIG = textwrap.dedent('''
    import ml_collections
    from jaxpose.configs import default
    from conftest import tiny_budget


    def get_config():
      c = tiny_budget(default.get_config())
      c.name = "tiny_coords"
      c.model = ml_collections.ConfigDict({"name": "test_family_contract:TinyCoordNet",
                                           "num_joints": 16, "features": 8})
      c.eval.metrics = ("pck@0.2", "visibility")
      return c
    ''')


@pytest.mark.slow
def test_a_new_family_member_runs_end_to_end_from_the_command_line(tmp_path, cache_dir):
  cfg = tmp_path / "tiny_coords.py"
  cfg.write_text(CONFIG)
  workdir = str(tmp_path / "run")
  out = run_cli(["train.py", f"--config={cfg}", f"--workdir={workdir}",
              "--config.loss.weights.coords=2.0"], cache_dir, PYTHONPATH=_PYTHONPATH).stdout
  assert "(coords family)" in out and "step 6: validation PCK@0.2 Total" in out, out[-2000:]
  assert "Visibility-acc" in out
  p = run_cli(["evaluate.py", f"--workdir={workdir}", "--flip", "--split=test"], cache_dir, PYTHONPATH=_PYTHONPATH)
  assert "PCK@0.2" in p.stdout and "Visibility-acc" in p.stdout
  with open(os.path.join(workdir, "eval", "synthetic_pose_test.json")) as f:
    doc = json.load(f)
  assert doc["flip"] is True and doc["num_examples"] == 8
  assert 0 <= doc["metrics"]["Visibility-acc"]["Total"] <= 100
  assert doc["metrics"]["PCK@0.2"]["Total"] is not None
  png = str(tmp_path / "overlay.png")
  run_cli(["-m", "jaxpose.visualize", "overlay", f"--workdir={workdir}", "--num=4",
        f"--output={png}"], cache_dir, PYTHONPATH=_PYTHONPATH)
  assert os.path.getsize(png) > 0
  # the family says what it cannot do, as one line
  p = run_cli(["evaluate.py", f"--workdir={workdir}", "--multiscale"], cache_dir, check=False, PYTHONPATH=_PYTHONPATH)
  assert p.returncode == 2 and "no multi-scale test" in p.stderr and "Traceback" not in p.stderr
  p = run_cli(["-m", "jaxpose.visualize", "heatmaps", f"--workdir={workdir}", "--index=0"],
           cache_dir, check=False, PYTHONPATH=_PYTHONPATH)
  assert p.returncode == 2 and "makes no heat maps" in p.stderr


def _family(**data):
  from jaxpose.configs import default
  from jaxpose import families
  c = default.get_config()
  c.model = {"name": "test_family_contract:TinyCoordNet", "num_joints": 16}
  c.data.update(data)
  return families.get(c)


def test_coordinate_flip_test_is_mirror_and_swap():
  fam = _family(image_size=64)
  rng = np.random.default_rng(0)
  c = jnp.asarray(rng.uniform(0.1, 0.9, (2, 16, 2)), jnp.float32)
  v = jnp.asarray(rng.uniform(0, 1, (2, 16)), jnp.float32)
  perm = fam.flip_perm
  # what a perfectly flip-equivariant network predicts on the mirrored crop
  mirrored = {"coords": jnp.stack([1.0 - c[..., 0], c[..., 1]], -1)[:, perm], "visibility": v[:, perm]}
  merged = fam.flip_merge({"coords": c, "visibility": v}, mirrored)
  np.testing.assert_allclose(merged["coords"], c, atol=1e-6)
  np.testing.assert_allclose(merged["visibility"], v, atol=1e-6)
  # in pixels: x → S − 1 − x, the heat-map families' convention
  px = fam.decode({"coords": c})["keypoints"]
  px_m = fam.decode({"coords": mirrored["coords"][:, perm]})["keypoints"]
  np.testing.assert_allclose(px_m[..., 0], 63.0 - px[..., 0], atol=1e-4)


def test_coordinate_losses_ignore_absent_joints_and_weights_apply():
  fam = _family(image_size=64)
  rng = np.random.default_rng(1)
  target = rng.uniform(size=(2, 16, 2)).astype(np.float32)
  present = (rng.uniform(size=(2, 16)) > 0.5).astype(np.float32)
  pred = target + np.where(present[..., None] > 0, 0.1, 5.0)   # absent joints far off
  logits = rng.normal(size=(2, 16)).astype(np.float32)
  out = {"coords": (jnp.asarray(pred),), "visibility_logits": jnp.asarray(logits)}
  batch = {"coords": target, "present": present, "target_weight": np.ones((2, 16), np.float32)}
  total, terms = fam.loss(out, batch)
  np.testing.assert_allclose(terms["coords"], 0.01 * present.sum() * 2 / present.size / 2, rtol=1e-5)
  p = 1 / (1 + np.exp(-logits))
  bce = -np.mean(present * np.log(p) + (1 - present) * np.log(1 - p))
  np.testing.assert_allclose(terms["visibility"], bce, rtol=1e-5)
  np.testing.assert_allclose(total, terms["coords"] + terms["visibility"], rtol=1e-6)
  # the phase-1 network of the course report (§3.3): presence only, no coordinate term
  _, terms = fam.loss({"visibility_logits": jnp.asarray(logits)}, batch)
  assert set(terms) == {"visibility"}


def test_model_outside_the_package_needs_a_family():
  from jaxpose import models
  assert models.family_of("test_family_contract:TinyCoordNet") == "coords"
  with pytest.raises(ValueError, match="no 'family' attribute"):
    models.model_class("flax.linen:Dense")
  with pytest.raises(ValueError, match="cannot import"):
    models.model_class("no_such_module_xyz:Net")
