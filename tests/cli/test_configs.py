"""Every recipe in configs/ builds: its model is registered and its fields exist, its joint
count matches its dataset's skeleton, and its schedule and optimizer are valid. The recipes'
structure (docs/DESIGN.md, ``configs``): inheritance at most three deep counting ``default``,
shared blocks in ``common`` (not a recipe), and every recipe's resolved config as stored in
``tests/fixtures/recipe_configs.json``."""
import ast
import importlib
import inspect
import json
import os
import sys

import jax
import numpy as np
import pytest

from jaxpose import configs, families, grouping, models
from jaxpose.data import datasets
from jaxpose.errors import ConfigError
from jaxpose.evaluation import metrics
from jaxpose.training import optim
from conftest import ROOT, TESTS, load_recipe, offline_groups

CONFIGS = [configs.path(n) for n in configs.names()]
MAX_DEPTH = 3  # a variant → its family's base recipe → default
SNAPSHOT = os.path.join(TESTS, "fixtures", "recipe_configs.json")
ARGS = ("1", "2", "3", "cpu", "paper")  # the config-file arguments the recipes take




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


def _recipe_imports(name: str) -> set[str]:
  """The packaged recipes that recipe ``name``'s file imports (``from jaxpose.configs import X``,
  ``import jaxpose.configs.X``, ``from jaxpose.configs.X import …``); ``common`` is not one."""
  with open(configs.path(name)) as f:
    tree = ast.parse(f.read())
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom) and node.module == "jaxpose.configs":
      found |= {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jaxpose.configs."):
      found.add(node.module.split(".")[2])
    elif isinstance(node, ast.Import):
      found |= {a.name.split(".")[2] for a in node.names
                if a.name.startswith("jaxpose.configs.")}
  return found & set(configs.names())


def _depth(name: str, seen=()) -> int:
  """1 for ``default``; 1 + the deepest recipe ``name`` imports."""
  assert name not in seen, f"recipes import one another in a circle: {seen + (name,)}"
  return 1 + max((_depth(r, seen + (name,)) for r in _recipe_imports(name)), default=0)


def test_inheritance_is_at_most_three_deep():
  depths = {n: _depth(n) for n in configs.names()}
  assert depths["default"] == 1 and not _recipe_imports("default")
  too_deep = {n: d for n, d in depths.items() if d > MAX_DEPTH}
  assert not too_deep, f"recipes deeper than {MAX_DEPTH} (counting default): {too_deep}"
  assert max(depths.values()) == MAX_DEPTH  # the check measures something


def _modules():
  """Each packaged recipe's module (``jaxpose.configs.NAME``)."""
  return {n: importlib.import_module(f"jaxpose.configs.{n}") for n in configs.names()}


def test_the_calls_are_at_most_three_deep():
  """The same bound on what runs: nested ``get_config`` calls of recipe files, whatever imports
  them (a block of another recipe's module calling its ``get_config`` counts)."""
  here = os.path.dirname(configs.path("default"))
  deepest, depth = {}, [0, 0]

  def profile(frame, event, arg):
    if frame.f_code.co_name == "get_config" and os.path.dirname(frame.f_code.co_filename) == here:
      if event == "call":
        depth[0] += 1
        depth[1] = max(depth[1], depth[0])
      elif event == "return":
        depth[0] -= 1

  for name, module in _modules().items():
    depth[:] = [0, 0]
    sys.setprofile(profile)
    try:
      _build(module)
    finally:
      sys.setprofile(None)
    deepest[name] = depth[1]
  assert deepest["default"] == 1
  assert max(deepest.values()) <= MAX_DEPTH, deepest


def test_common_holds_blocks_not_a_recipe():
  assert "common" not in configs.names()
  assert not hasattr(importlib.import_module("jaxpose.configs.common"), "get_config")
  with pytest.raises(ConfigError, match="no packaged recipe"):
    configs.resolve("common")
  assert configs.resolve("lsp_cpu") == configs.path("lsp_cpu")
  # the package itself keeps only the lookup: no config blocks left in configs/__init__.py
  blocks = ("lsp_protocol", "cpu_budget", "epoch_schedule", "regressor_cpu_budget", "two_phase",
            "hmlpe", "deeppose")
  assert not [b for b in blocks if callable(getattr(configs, b, None))]


def _jsonable(v):
  if isinstance(v, dict):
    return {str(k): _jsonable(x) for k, x in v.items()}
  if isinstance(v, (str, int, float, bool)) or v is None:
    return v
  return repr(v)


def _build(module) -> dict:
  """{"NAME" or "NAME:ARG": get_config(…).to_dict()} of one recipe module, with every argument
  of ``ARGS`` its ``get_config`` accepts (a recipe refuses the others with ValueError)."""
  name = module.__name__.rsplit(".", 1)[1]
  out = {name: _jsonable(module.get_config().to_dict())}
  positional = [p for p in inspect.signature(module.get_config).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
  if positional:
    for arg in ARGS:
      try:
        out[f"{name}:{arg}"] = _jsonable(module.get_config(arg).to_dict())
      except ValueError:
        pass
  return out


def _all_recipes() -> dict:
  out = {}
  for module in _modules().values():
    out.update(_build(module))
  return out


def _write_snapshot():
  recipes = _all_recipes()
  with open(SNAPSHOT, "w") as f:
    f.write("{\n" + ",\n".join(
        f"{json.dumps(k)}: {json.dumps(recipes[k], sort_keys=True, ensure_ascii=False)}"
        for k in sorted(recipes)) + "\n}\n")


def _differences(want, have, path=""):
  if isinstance(want, dict) and isinstance(have, dict):
    for k in sorted(set(want) | set(have)):
      yield from _differences(want.get(k, "<absent>"), have.get(k, "<absent>"), f"{path}.{k}")
  elif want != have:
    yield f"{path[1:]}: stored {want!r}, now {have!r}"


def test_every_recipe_resolves_as_stored():
  """Every recipe's config (with each argument it takes) is the stored one: a refactoring of the
  recipes changes no value. After a deliberate change of a recipe or of default.py, rewrite the
  file with ``JAXPOSE_WRITE_RECIPES=1 pytest tests/cli/test_configs.py -k as_stored`` and review
  its diff."""
  if os.environ.get("JAXPOSE_WRITE_RECIPES") == "1":
    _write_snapshot()
  with open(SNAPSHOT) as f:
    stored = json.load(f)
  now = _all_recipes()
  assert sorted(now) == sorted(stored), (sorted(set(now) - set(stored)),
                                         sorted(set(stored) - set(now)))
  changed = {k: list(_differences(stored[k], now[k])) for k in now if stored[k] != now[k]}
  assert not changed, changed

