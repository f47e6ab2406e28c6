"""Stored configs of older versions (``checkpoint.ADDED_KEYS`` / ``upgrade_config``): a key the
schema gained later is filled in with its default once, where a stored config is read — a
checkpoint's (``restore_config``) or a released model's (``zoo.load``) — so the code reads it as
an attribute and states no default of its own."""
import json
import os
import shutil

import numpy as np
from conftest import TESTS, tiny_config

FIXTURE = os.path.join(TESTS, "fixtures", "ckpt_v0_1")


def _at(config, dotted: str):
  node = config
  for part in dotted.split("."):
    node = node[part]
  return node


def _old_style(config):
  """``config`` as a version before the keys of ``ADDED_KEYS`` existed stored it."""
  from jaxpose import checkpoint
  d = checkpoint.config_to_dict(config)
  for dotted in checkpoint.ADDED_KEYS:
    *sections, key = dotted.split(".")
    node = d
    for s in sections:
      node = node[s]
    del node[key]
  return d


def _assert_defaults(config):
  from jaxpose import checkpoint
  for dotted, value in checkpoint.ADDED_KEYS.items():
    have = _at(config, dotted)
    assert (tuple(have) if isinstance(value, tuple) else have) == value, dotted


def test_the_defaults_are_the_default_configs():
  """Each default is stated once in each layer: ``ADDED_KEYS`` (layer 1, below the recipes) and
  configs/default.py agree, and the code below reads no other value for these keys — except the
  keys whose default changed (``NEW_DEFAULTS``), where the old runs keep their behaviour."""
  from jaxpose import checkpoint
  from jaxpose.configs import default
  c = default.get_config()
  for dotted, value in checkpoint.ADDED_KEYS.items():
    have = _at(c, dotted)
    same = (tuple(have) if isinstance(value, tuple) else have) == value
    assert same != (dotted in checkpoint.NEW_DEFAULTS), dotted
  assert checkpoint.NEW_DEFAULTS == ("eval.subpixel",)
  assert (c.eval.subpixel, checkpoint.ADDED_KEYS["eval.subpixel"]) == ("dark", "quarter")
  assert checkpoint.ADDED_KEYS["data.scale_pad"] == 1.25
  assert checkpoint.ADDED_KEYS["eval.scales"] == (1.0,)


def test_an_old_config_stored_and_restored_comes_back_with_the_defaults(tmp_path):
  import jax.numpy as jnp
  import ml_collections
  from jaxpose import checkpoint, config_check, families
  old = _old_style(tiny_config())
  assert "scale_pad" not in old["data"] and "scales" not in old["eval"]
  mngr = checkpoint.manager(str(tmp_path))
  checkpoint.save(mngr, 1, {"w": jnp.ones(3)}, ml_collections.ConfigDict(old))
  back = checkpoint.restore_config(mngr, 1)
  mngr.close()
  _assert_defaults(back)
  assert float(back.data.scale_pad) == 1.25 and tuple(back.eval.scales) == (1.0,)
  # what evaluation reads of it works as on a fresh config
  config_check.check_evaluation(back)
  assert families.get(back).scales == (1.0,)
  # decoded as it was before DARK joined (a new run's config says "dark")
  assert families.get(back).codec.subpixel == "quarter"
  assert families.get(tiny_config()).codec.subpixel == "dark"


def test_a_stored_value_is_kept():
  import ml_collections
  from jaxpose import checkpoint
  d = checkpoint.config_to_dict(tiny_config())
  d["data"]["scale_pad"] = 1.0
  d["eval"]["scales"] = [0.8, 1.0]
  del d["train"]["grad_clip"]
  c = checkpoint.upgrade_config(ml_collections.ConfigDict(d))
  assert c.data.scale_pad == 1.0 and list(c.eval.scales) == [0.8, 1.0]
  assert c.train.grad_clip == 0.0
  # not a run's config (no sections): nothing is invented
  assert checkpoint.upgrade_config(ml_collections.ConfigDict({"name": "t"})).to_dict() == {
      "name": "t"}


def test_a_released_model_of_an_older_version_loads_with_the_defaults(tmp_path):
  import ml_collections
  from jaxpose import zoo
  variables = {"params": {"w": np.ones(3, np.float32)}, "batch_stats": {}}
  out = zoo.save(str(tmp_path / "old"), tiny_config(), variables, step=1)
  with open(os.path.join(out, "config.json")) as f:
    config = json.load(f)
  assert config["data"]["scale_pad"] == 1.25
  with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(_old_style(ml_collections.ConfigDict(config)), f)
  loaded, _, _ = zoo.load(out)
  _assert_defaults(loaded)
  lsp, _, _ = zoo.load("lsp")  # the released model (every key stored) reads as it is
  assert float(lsp.data.scale_pad) == 1.25 and tuple(lsp.eval.scales) == (1.0,)


def test_the_first_release_fixture_restores_its_config_upgraded(tmp_path):
  """tests/fixtures/ckpt_v0_1 (before the family contract) lacks data.limit, data.on_error,
  train.grad_clip, train.frozen, train.trainable: they come back as the defaults; what it stored
  stays as it was, and ``model`` (the network's fields) as stored."""
  from jaxpose import checkpoint
  work = str(tmp_path / "ckpt")
  shutil.copytree(FIXTURE, work)
  with open(os.path.join(FIXTURE, "checkpoints", "3", "config", "metadata")) as f:
    stored = json.load(f)
  assert "layer_forms" not in stored["model"] and "limit" not in stored["data"]
  config = checkpoint.restore_config(checkpoint.manager(work, read_only=True), 3)
  _assert_defaults(config)
  assert config.model.features == 8 and config.data.shuffle_buffer == 48
  assert config.model.to_dict() == stored["model"]
