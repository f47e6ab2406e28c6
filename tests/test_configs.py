"""Every recipe in configs/ builds: its model is registered and its fields exist, its joint
count matches its dataset's skeleton, and its schedule and optimizer are valid."""
import glob
import importlib.util
import os

import jax
import pytest

from jaxpose import models
from jaxpose.data import datasets
from jaxpose.training import optim

CONFIGS = sorted(p for p in glob.glob(os.path.join(os.path.dirname(__file__), "..", "configs", "*.py"))
                 if not p.endswith("__init__.py"))


def _load(path):
  spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def test_there_are_recipes():
  names = {os.path.basename(p) for p in CONFIGS}
  assert {"default.py", "hourglass.py", "lsp_hourglass.py", "pbn_mpii.py", "msn_mpii.py"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_recipe_builds(path):
  c = _load(path)
  model = models.create(c.model)
  assert datasets.skeleton(c.data).num_joints == c.model.num_joints
  assert c.data.name in datasets.DATASETS
  lr = optim.schedule(c.train, 1000, 100)
  optim.optimizer(c.train, lr)
  # Shapes only: nothing is allocated, so even the 8-stack recipes cost milliseconds.
  size = int(c.data.image_size)
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0),
                                             jax.numpy.zeros((1, size, size, 3)), train=False))
  out = jax.eval_shape(lambda v: model.apply(v, jax.numpy.zeros((1, size, size, 3)), train=False),
                       shapes)
  final = out["heatmaps"][-1]
  assert final.shape == (1, c.data.heatmap_size, c.data.heatmap_size, c.model.num_joints)
