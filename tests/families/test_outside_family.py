"""The family contract from outside the package (issue #40): a family defined here, whose
decode adds a key of its own (``sharpness``), trains, validates and evaluates with a metric of
its own that scores that key, and draws a heat-map panel of its own — no library file names
any of it. Everything below is what a user would write in their own module."""
import os

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxpose import config_check, families, inference
from jaxpose.errors import ConfigError
from jaxpose.evaluation import metrics
from jaxpose.families.heatmap import HeatmapFamily
from jaxpose.models.hourglass import StackedHourglass


class SharpFamily(HeatmapFamily):
  """Heat maps, plus how peaked each joint's map is: the share of its positive mass at the
  peak (1 = one pixel, 1/(h·w) = flat)."""
  name = "sharp_heatmap"

  def decode(self, final):
    out = super().decode(final)
    hm = jnp.maximum(final["heatmaps"], 0.0)
    out["sharpness"] = jnp.max(hm, axis=(1, 2)) / (jnp.sum(hm, axis=(1, 2)) + 1e-6)
    return out

  def heatmap_panels(self, outputs, i=0, stacks=False):
    hm = np.maximum(np.asarray(outputs["heatmaps"][-1][i]), 0.0)
    return super().heatmap_panels(outputs, i, stacks) + [("squared", hm ** 2)]


class SharpHourglass(StackedHourglass):
  """The library's hourglass, trained and read through ``SharpFamily``."""
  family = SharpFamily


def _sharp(inp, alpha):
  """Metric ``sharp@α``: percent of annotated joints whose map holds more than α at its peak."""
  s, valid = np.asarray(inp.get("sharpness")), np.asarray(inp.valid) > 0
  hit = (s > alpha) & valid
  per_joint = 100.0 * hit.sum(0) / np.maximum(valid.sum(0), 1)
  return ({"Total": 100.0 * hit.sum() / max(valid.sum(), 1)},
          {n: float(v) for n, v in zip(inp.skeleton.joints, per_joint)})


if "sharp" not in metrics.METRICS:  # this module may be imported twice (restore by name)
  metrics.register("sharp", metrics.MetricSpec(
      "Sharp", 0.05, "0.05", ("sharpness",), _sharp, "joints whose heat map peak holds > α",
      bare_default=True, max_threshold=1.0))


def _config(config):
  config.model.name = f"{__name__}:SharpHourglass"
  config.eval.metrics = ("pck@0.2", "sharp")
  return config


def test_the_family_is_found_through_the_model_and_its_key_through_decode(config):
  fam = families.get(_config(config))
  assert isinstance(fam, SharpFamily) and families.FAMILIES["sharp_heatmap"] is SharpFamily
  assert fam.prediction_keys() == ("keypoints", "scores", "sharpness")
  config_check.check_evaluation(config)  # "sharp" needs "sharpness": the family has it
  plain = config.copy_and_resolve_references()
  plain.model.name = "hourglass"
  with pytest.raises(ConfigError, match=r"'sharp' needs 'sharpness', which the heatmap family"):
    config_check.check_evaluation(plain)
  with pytest.raises(ValueError, match="already registered"):
    families.register(type("Other", (HeatmapFamily,), {"name": "sharp_heatmap"}))


@pytest.mark.slow
def test_a_family_from_outside_trains_evaluates_and_draws_its_own_key(config, tmp_path):
  from jaxpose.training import loop
  from jaxpose.visualize import cli as visualize_cli
  config = _config(config)
  workdir = str(tmp_path / "run")
  results = loop.train(config, workdir)  # validation scores "sharp" at step 6
  assert 0.0 <= results["metrics"]["Sharp"]["Total"] <= 100.0
  predictor = inference.load(workdir)
  res = inference.evaluate(predictor, "test", metrics=["pck@0.2", "sharp"])
  pred = res["_predictions"]
  assert pred["sharpness"].shape == pred["scores"].shape == (8, 16)
  want = 100.0 * np.mean(pred["sharpness"][pred["valid"] > 0] > 0.05)
  np.testing.assert_allclose(res["metrics"]["Sharp"]["Total"], want)
  png = str(tmp_path / "maps.png")
  assert visualize_cli.main(["heatmaps", f"--workdir={workdir}", "--index=0", "--tile=64",
                             f"--output={png}"]) == 0
  with Image.open(png) as im:
    assert im.size[0] == 2 * 64  # the family's "final" column and its own "squared" one
