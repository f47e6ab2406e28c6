"""Config values are checked once, at start-up: one error naming the key and what is allowed."""
import subprocess
import sys

import pytest

from jaxpose import config_check, configs
from jaxpose.errors import ConfigError
from conftest import ROOT, cli_env


def _tiny():
  from conftest import tiny_config
  return tiny_config()


@pytest.mark.parametrize("key,value,match", [
    ("train.batch_size", 0, r"train.batch_size=0: must be >= 1"),
    ("train.num_steps", -5, r"train.num_steps=-5: must be > 0 \(or -1 = unset\)"),
    ("train.optimizer", "adagrad", r"train.optimizer='adagrad': expected one of rmsprop, adam, sgd"),
    ("train.learning_rate", 0.0, r"train.learning_rate=0.0: must be > 0"),
    ("train.keep_checkpoints", 0, r"train.keep_checkpoints=0: must be >= 1"),
    ("train.grad_clip", -1.0, r"train.grad_clip=-1.0: must be >= 0 \(0 = no clipping\)"),
    ("train.grad_clip", float("nan"), r"train.grad_clip=nan: must be >= 0"),
    ("data.name", "coco", r"data.name='coco': known datasets are .*lsp"),
    ("data.eval_split", "dev", r"data.eval_split='dev': dataset synthetic_pose has the splits"),
    ("data.on_error", "ignore", r"data.on_error='ignore': must be 'raise' or 'skip'"),
    ("data.limit", -1, r"data.limit=-1: must be >= 0"),
    ("data.image_size", 60, r"data.image_size=60: model hourglass cannot take a 60×60 input"),
    ("data.heatmap_size", 32, r"data.heatmap_size=32, but model 'hourglass' makes 16×16"),
    ("model.num_joints", 14, r"model.num_joints=14, but dataset synthetic_pose .* has 16 joints"),
    ("eval.metrics", ("pckh@0.5", "pckz"), r"eval.metrics: unknown metric 'pckz'"),
    ("eval.metrics", ("visibility",), r"'visibility' needs predicted joint visibility"),
    ("eval.checkpoint", "newest", r"eval.checkpoint='newest': expected one of latest, best"),
    ("eval.scales", (1.0, 0.0), r"test scale 0.0 must be a finite number > 0"),
])
def test_bad_values_name_the_key(key, value, match):
  c = _tiny()
  section, name = key.split(".")
  c[section][name] = value
  with pytest.raises((ConfigError, ValueError), match=match):
    config_check.check_training(c)


def test_batch_must_split_over_devices_and_weights_need_a_term():
  c = _tiny()
  with pytest.raises(ConfigError, match=r"train.batch_size=8 must be divisible by the 3 devices"):
    config_check.check_training(c, num_devices=3)
  c.loss.weights.coords = 0.5
  with pytest.raises(ConfigError, match=r"loss.weights.coords=0.5: the heatmap family has no "
                                        r"'coords' loss term \(its terms: heatmaps\)"):
    config_check.check_training(c)
  c.loss.weights.coords = None
  c.loss.weights.heatmaps = 2.0
  config_check.check_training(c)  # a term the family has


@pytest.mark.parametrize("name", configs.names())
@pytest.mark.slow
def test_every_recipe_passes(name):
  import importlib
  config_check.check_training(importlib.import_module(f"configs.{name}").get_config())


@pytest.mark.slow
def test_the_cli_prints_one_line_and_exits_2(tmp_path, cache_dir):
  env = cli_env(cache_dir)
  p = subprocess.run([sys.executable, "train.py", f"--workdir={tmp_path}",
                      "--config.train.batch_size=0"], cwd=ROOT, env=env, capture_output=True,
                     text=True, timeout=300)
  assert p.returncode == 2, p.stderr[-2000:]
  assert "error: train.batch_size=0: must be >= 1" in p.stderr
  assert "Traceback" not in p.stderr
