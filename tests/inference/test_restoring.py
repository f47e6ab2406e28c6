"""jaxpose/inference/restoring.py on a workdir written here with ``checkpoint.save`` (two
checkpoints whose parameters are filled with their step, so which one was read shows in the
values; no training): which checkpoint a workdir or step directory names (latest, best, the
config's ``eval.checkpoint``), the variables' shapes without allocation, the restore itself
(parameters and BatchNorm statistics only), data overrides, and the errors, each naming the path."""
import os
import re

import jax
import numpy as np
import pytest

from jaxpose import checkpoint, inference
from jaxpose.errors import CheckpointError
from jaxpose.inference import restoring

PARAMS = 2420  # the 1-stack, 8-channel, depth-1 hourglass of 16 joints (tests/fixtures/README.md)


def _config(which="best"):
  from conftest import tiny_config
  c = tiny_config()
  c.model.update(features=8, depth=1, num_blocks=1)
  c.data.update(image_size=32, heatmap_size=8)
  c.eval.checkpoint = which
  return c


def _fill(abstract, value):
  return jax.tree_util.tree_map(lambda a: np.full(a.shape, value, a.dtype), abstract)


def _save(workdir, config, scores):
  """One checkpoint per (step, validation score); its arrays hold the step (statistics + 0.5)."""
  abstract = restoring.abstract_variables(config)
  mngr = checkpoint.manager(workdir)
  for step, score in scores:
    state = {"step": np.int32(step), "params": _fill(abstract["params"], step),
             "batch_stats": _fill(abstract["batch_stats"], step + 0.5),
             "opt_state": {"mu": _fill(abstract["params"], -1.0)}}
    checkpoint.save(mngr, step, state, config,
                    {checkpoint.BEST_METRIC: score, checkpoint.METRIC_NAME: "PCKh@0.5 Total"})
  return workdir


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  """Step 2 scored best (0.9), step 4 is the latest (0.5); the config reads ``best``."""
  return _save(str(tmp_path_factory.mktemp("restoring") / "run"), _config("best"),
               [(2, 0.9), (4, 0.5)])


def test_resolve_checkpoint_of_a_workdir_and_of_a_step_directory(workdir, monkeypatch):
  assert restoring.resolve_checkpoint(workdir) == (workdir, 4)
  assert restoring.resolve_checkpoint(workdir, "best") == (workdir, 2)
  step_dir = os.path.join(workdir, "checkpoints", "2")
  for path in (step_dir, step_dir + "/"):
    assert restoring.resolve_checkpoint(path, "latest") == (workdir, 2)  # the step it names
  monkeypatch.chdir(os.path.dirname(workdir))  # relative paths come back absolute
  assert restoring.resolve_checkpoint("run") == (workdir, 4)
  assert restoring.resolve_checkpoint(os.path.join("run", "checkpoints", "4")) == (workdir, 4)


def test_resolve_checkpoint_errors_name_the_path(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  os.mkdir("plain")
  here = re.escape(str(tmp_path))
  with pytest.raises(CheckpointError, match=f"^{here}/plain: no checkpoints/ folder"):
    restoring.resolve_checkpoint("plain")
  os.makedirs("empty/checkpoints")
  with pytest.raises(CheckpointError,
                     match=f"^{here}/empty/checkpoints holds no finished checkpoint"):
    restoring.resolve_checkpoint("empty")
  with pytest.raises(CheckpointError, match=r"which='newest': expected latest or best"):
    restoring.resolve_checkpoint("empty", "newest")


def test_a_step_the_workdir_lacks_is_named_with_the_steps_it_has(workdir):
  with pytest.raises(CheckpointError,
                     match=rf"^{re.escape(workdir)}/checkpoints has no step 3; it has \[2, 4\]"):
    restoring.restore(os.path.join(workdir, "checkpoints", "3"))


def test_default_which_is_the_saved_configs_choice_for_a_workdir_only(workdir, tmp_path):
  assert restoring.default_which(workdir) == "best"
  assert restoring.default_which(os.path.join(workdir, "checkpoints", "4")) == "latest"
  other = _save(str(tmp_path / "other"), _config("latest"), [(1, 0.3), (2, 0.1)])
  assert restoring.default_which(other) == "latest"


def test_abstract_variables_are_shapes_only():
  c = _config()
  abstract = restoring.abstract_variables(c)
  leaves = jax.tree_util.tree_leaves(abstract)
  assert set(abstract) == {"params", "batch_stats"}
  assert all(isinstance(x, jax.ShapeDtypeStruct) for x in leaves)
  assert sum(x.size for x in jax.tree_util.tree_leaves(abstract["params"])) == PARAMS
  assert abstract["params"]["score0"]["kernel"].shape == (8, 16)  # features → joints
  c.model.num_joints = 14
  fewer = restoring.abstract_variables(c)
  assert sum(x.size for x in jax.tree_util.tree_leaves(fewer["params"])) == PARAMS - 2 * (8 + 1)


def test_restore_reads_the_named_checkpoint_without_the_optimizer(workdir):
  config, variables, step, where = restoring.restore(workdir, "best")
  assert (step, where) == (2, workdir)
  assert set(variables) == {"params", "batch_stats"}  # no opt_state, no step
  abstract = restoring.abstract_variables(config)
  assert (jax.tree_util.tree_structure(variables)
          == jax.tree_util.tree_structure(abstract))
  for got, want in zip(jax.tree_util.tree_leaves(variables), jax.tree_util.tree_leaves(abstract)):
    assert got.shape == want.shape and got.dtype == want.dtype
  assert all(np.all(x == 2.0) for x in jax.tree_util.tree_leaves(variables["params"]))
  assert all(np.all(x == 2.5) for x in jax.tree_util.tree_leaves(variables["batch_stats"]))
  assert config.model.features == 8 and config.eval.checkpoint == "best"  # the saved config
  _, variables, step, _ = restoring.restore(workdir)  # latest
  assert step == 4 and np.all(variables["params"]["score0"]["bias"] == 4.0)


def test_restore_with_compatible_overrides_and_data_overrides(workdir):
  overrides = _config("best")
  overrides.eval.batch_size = 3
  config, _, step, _ = restoring.restore(workdir, overrides=overrides)
  assert step == 4 and config.eval.batch_size == 3
  config, _, _, _ = restoring.restore(workdir, data_overrides={"eval_split": "test"})
  assert config.data.eval_split == "test" and config.data.image_size == 32
  with pytest.raises(CheckpointError, match=rf"^{re.escape(workdir)}/checkpoints/4 predicts 16 "
                                            "joints; dataset lsp has 14"):
    restoring.restore(workdir, data_overrides={"name": "lsp"})


def test_with_data_copies_and_checks_the_joint_count_only_where_named():
  c = _config()
  lsp = restoring.with_data(c, {"name": "lsp", "root": "/x"})  # no checkpoint named: no check
  assert (lsp.data.name, lsp.data.root) == ("lsp", "/x")
  assert (c.data.name, c.data.root) == ("synthetic_pose", "")  # the original untouched
  with pytest.raises(CheckpointError, match=r"^run/checkpoints/6 predicts 16 joints; dataset "
                                            "lsp has 14$"):
    restoring.with_data(c, {"name": "lsp"}, "run/checkpoints/6")
  # the joint set is data.skeleton where given: LSP images under the 16-joint MPII skeleton
  both = restoring.with_data(c, {"name": "lsp", "skeleton": "mpii"}, "run/checkpoints/6")
  assert both.data.skeleton == "mpii"


def test_missing_workdir_checkpoint_is_a_clear_error(tmp_path):
  with pytest.raises(checkpoint.CheckpointError, match="no checkpoints/ folder"):
    inference.load(str(tmp_path))
