"""Every recipe in configs/ builds: its model is registered and its fields exist, its joint
count matches its dataset's skeleton, and its schedule and optimizer are valid."""
import glob
import importlib.util
import os

import jax
import numpy as np
import pytest

from jaxpose import families, grouping, models
from jaxpose.data import datasets
from jaxpose.evaluation import metrics
from jaxpose.training import optim
from conftest import ROOT, load_recipe, offline_groups

CONFIGS = sorted(p for p in glob.glob(os.path.join(ROOT, "configs", "*.py"))
                 if not p.endswith("__init__.py"))




def test_there_are_recipes():
  names = {os.path.basename(p) for p in CONFIGS}
  assert {"default.py", "hourglass.py", "lsp_hourglass.py", "pbn_mpii.py", "msn_mpii.py",
          "msn_lsp.py", "msn_flic.py", "lsp_cpu.py", "pbn_lsp.py"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_recipe_builds(path):
  c = load_recipe(path)
  if c.model.get("grouping") is not None and not c.model.get("groups"):
    c = offline_groups(c)
  model = models.create(c.model)
  assert datasets.skeleton(c.data).num_joints == c.model.num_joints
  assert c.data.name in datasets.DATASETS
  lr = optim.schedule(c.train, 1000, 100)
  optim.optimizer(c.train, lr)
  for name in c.eval.metrics:  # every metric a recipe asks for exists (evaluate.py would refuse it)
    metrics.parse(name)
  # Shapes only: nothing is allocated or compiled; init_with_output traces the network once
  # (the 8-stack recipes' tracing is what this test costs).
  size = int(c.data.image_size)
  out, _ = jax.eval_shape(lambda: model.init_with_output(
      jax.random.PRNGKey(0), jax.numpy.zeros((1, size, size, 3)), train=False))
  families.get(c).check_outputs(out)  # the family's own check (heat-map size, coords shape)
  if "heatmaps" in out:
    final = out["heatmaps"][-1]
    assert final.shape == (1, c.data.heatmap_size, c.data.heatmap_size, c.model.num_joints)
  else:
    assert "coords" not in out or out["coords"][-1].shape == (1, c.model.num_joints, 2)


