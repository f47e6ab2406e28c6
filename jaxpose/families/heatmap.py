"""Heat-map families: stacked hourglass and PBN (``heatmap``), MSN (``msn``), CPM (``cpm``).

Outputs (DESIGN.md): ``heatmaps``, a tuple of (B, h, w, K) maps, one per stack or stage, last =
final; MSN adds ``pyramid``. Prediction decodes the final maps by argmax with a sub-pixel step
(``eval.subpixel``: DARK's Taylor step, or the quarter-pixel shift; ``codecs.heatmap``); the
flip test averages the maps with the mirrored, left/right-swapped maps of the flipped crop; the multi-scale test resamples every scale's maps into the scale-1
frame and averages them there (``codecs.heatmap.merge_scales``).
"""
from __future__ import annotations

from jaxpose import losses, models
from jaxpose.codecs import heatmap as heatmap_codec
from jaxpose.errors import ConfigError
from jaxpose.families.base import Family
from jaxpose.models.cpm import background_target


class HeatmapFamily(Family):
  """Gaussian heat-map targets, intermediate supervision over every stack (Newell et al. 2016
  §3.4; Tang & Wu 2019 §3.3)."""

  name = "heatmap"
  supports_multiscale = True

  def __init__(self, config):
    super().__init__(config)
    if config.eval.subpixel not in heatmap_codec.SUBPIXEL:
      raise ConfigError(f"eval.subpixel={config.eval.subpixel!r} is not a sub-pixel step; "
                        f"known: {', '.join(heatmap_codec.SUBPIXEL)}")
    self.codec = heatmap_codec.HeatmapCodec.from_config(config.data, config.eval.subpixel)
    self.scales = heatmap_codec.check_scales(config.eval.scales)

  def targets(self):
    return ("heatmaps",)

  def check_outputs(self, outputs):
    if "heatmaps" not in outputs:
      raise ConfigError(f"model {self.config.model.name!r} ({self.name} family) has no "
                        f"'heatmaps' output (it has {', '.join(sorted(outputs))})")
    h, w = outputs["heatmaps"][-1].shape[1:3]
    want = int(self.config.data.heatmap_size)
    if (h, w) != (want, want):
      raise ConfigError(f"data.heatmap_size={want}, but model {self.config.model.name!r} makes "
                        f"{h}×{w} heat maps from data.image_size={self.image_size}; set "
                        f"--config.data.heatmap_size={h}")

  def eval_inputs(self):
    return () if self.scales == (1.0,) else ("image_scales",)

  def loss_terms(self):
    return {"heatmaps": lambda out, batch: losses.stacked_heatmap_mse(
        out["heatmaps"], batch["heatmaps"], batch["target_weight"])}

  def final(self, outputs):
    return {"heatmaps": outputs["heatmaps"][-1].astype("float32")}

  def flip_merge(self, final, flipped):
    return {"heatmaps": heatmap_codec.merge_flip(final["heatmaps"], flipped["heatmaps"],
                                                 self.flip_perm)}

  def scale_merge(self, finals, scales):
    return {"heatmaps": heatmap_codec.merge_scales([f["heatmaps"] for f in finals], scales)}

  def decode(self, final):
    joints, peak = self.codec.decode(final["heatmaps"])
    return {"keypoints": joints, "scores": peak}

  def heatmap_panels(self, outputs, i=0, stacks=False):
    hms = outputs["heatmaps"]
    if stacks:
      return [(f"stack {s + 1}", h[i]) for s, h in enumerate(hms)]
    return [("final", hms[-1][i])]


class MSNFamily(HeatmapFamily):
  """Multi-scale supervision (Ke et al. 2018 §2.1, eq. 1) and the global keypoint regression
  network (§2.2): the ``pyramid`` term on the coarser scales, GT stays with ``heatmaps``."""

  name = "msn"

  def targets(self):
    return ("heatmaps", "heatmap_pyramid")

  def loss_terms(self):
    terms = super().loss_terms()
    weighting = losses.pyramid_weighting(self.config)
    terms["pyramid"] = lambda out, batch: losses.multiscale_heatmap_mse(
        out["pyramid"], tuple(batch["heatmap_pyramid"]), batch["target_weight"], weighting)
    return terms

  def heatmap_panels(self, outputs, i=0, stacks=False):
    """Ke et al. Fig. 3: the last conv-deconv module's GT-scale map before the regression
    network and the final map after it; ``stacks``: every stack, then the regression output."""
    hms, pyramid = outputs["heatmaps"], outputs.get("pyramid", ())
    refined = len(pyramid) > 0 and len(hms) == len(pyramid) + 1
    if not refined:
      return super().heatmap_panels(outputs, i, stacks)
    if stacks:
      names = [f"stack {s + 1}" for s in range(len(pyramid))] + ["after regression"]
      return [(n, h[i]) for n, h in zip(names, hms)]
    return [("before regression", pyramid[-1][0][i]), ("after regression", hms[-1][i])]


class CPMFamily(HeatmapFamily):
  """Convolutional Pose Machines (Wei et al. 2016; ``models.cpm``): T stages of joint beliefs
  plus a background belief per stage.

  Loss — intermediate supervision (Wei et al. §3.3, eq. 4–5: the L2 between every stage's
  P + 1 belief maps and the ideal ones, summed over stages): ``heatmaps``, every stage's joint
  maps against the Gaussian targets with the target weights, as ``HeatmapFamily``; and
  ``background``, every stage's background map against ``background_target(heatmaps)``
  (``losses.stacked_extra_map_mse``: per pixel on the scale of one joint map, so the two
  terms together weigh all P + 1 maps alike, as eq. 4). Joints with target weight 0: the
  joint term ignores them (as ``HeatmapFamily``); the background term keeps weight 1 on
  every pixel, against a target built from the weighted joint maps, where such a joint has
  an all-zero map, so the background target is 1 where it would be — the release's target
  (``models.cpm.background_target``). A weight-0 joint is outside the crop (no pixel to
  leave out) or unannotated (LSPET; its location is unknown), so there is nothing better to
  mask; the cost is a small patch wrongly called background for an unannotated joint.

  Prediction: the joint maps of the last stage, decoded, flipped and merged across scales as
  in every heat-map family; the background map is not a joint and is never decoded.
  ``eval.stage`` = t (1 … T) predicts from stage t instead (0 = the last, the default): the
  per-stage accuracy ("does each stage refine?") through ``final`` alone, so the flip and
  multi-scale tests and every metric work per stage unchanged, with no change to the
  predictor or the evaluation.
  """

  name = "cpm"

  def __init__(self, config):
    super().__init__(config)
    self.stage = int(config.get("eval", {}).get("stage", 0))

  def num_stages(self) -> int:
    return int(models.create(self.config.model).num_stages)

  def check_outputs(self, outputs):
    super().check_outputs(outputs)
    hms, bgs = outputs["heatmaps"], outputs.get("background", ())
    if len(bgs) != len(hms) or any(b.shape[:-1] != h.shape[:-1] or b.shape[-1] != 1
                                   for b, h in zip(bgs, hms)):
      raise ConfigError(f"model {self.config.model.name!r} ({self.name} family) must output "
                        f"'background': one (B, h, w, 1) map per stage beside 'heatmaps' "
                        f"({len(hms)} stages)")

  def check(self, config):
    super().check(config)
    stage, stages = int(config.get("eval", {}).get("stage", 0)), self.num_stages()
    if not 0 <= stage <= stages:
      raise ConfigError(f"eval.stage={stage}: the model has stages 1 … {stages} (0 = the last)")

  def loss_terms(self):
    terms = super().loss_terms()
    k = self.skeleton.num_joints
    terms["background"] = lambda out, batch: losses.stacked_extra_map_mse(
        out["background"], background_target(batch["heatmaps"]), k)
    return terms

  def final(self, outputs):
    hms = outputs["heatmaps"]
    return {"heatmaps": hms[self.stage - 1 if self.stage else -1].astype("float32")}

  def heatmap_panels(self, outputs, i=0, stacks=False):
    if stacks:
      return [(f"stage {t + 1}", h[i]) for t, h in enumerate(outputs["heatmaps"])]
    return super().heatmap_panels(outputs, i)
