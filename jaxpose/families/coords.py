"""The coordinate family: networks that regress joint coordinates directly (the course
report's regressors with a joint-visibility head, §2.1–2.2; DeepPose stages; HMLPE's
regression task).

Outputs (DESIGN.md): ``coords``, a tuple of (B, K, 2) normalised crop coordinates
(``(x + 0.5) / S``, x first), one per stage, last = final; optionally ``visibility_logits``
(B, K), one presence logit per joint (eq. 1–3: ŷ = [ω̂ û v̂]).

Losses (course report §2.2):

- ``coords`` — eq. 6, ‖r̂ − r‖² with r = [u v] (eq. 7), over every stage's coordinates of the
  joints that count: ``batch["present"]`` (annotated, visible and inside the crop) when the
  network predicts presence, as §2.1 ignores the coordinates of a joint with ω = −1; else
  ``target_weight`` (annotated and inside the crop). Two differences of scale only, both
  constant factors that ``loss.weights.coords`` absorbs: the coordinates are crop-normalised
  (eq. 1's pixels divided by the crop side S, so eq. 6 in pixels is S² times larger), and the
  squared errors are averaged over the batch's B·K·2 values (absent joints count as zeros)
  where eq. 6 sums an example's 2k values and eq. 4 averages over the n examples: the term is
  eq. 6 / (2k).
- ``visibility`` — eq. 5, the binary cross-entropy of the presence logits (ω̂ = sigmoid) against
  ``present``, averaged over the k joints and the batch. Eq. 2 writes ω ∈ {−1, 1}, but eq. 5 is
  the cross-entropy of 0/1 labels (with ω = −1 its ``ω log ω̂`` term would not vanish but make
  the loss unbounded below as ω̂ → 0, and ``1 − ω`` would weigh 2): here ω = 1 present, 0
  absent, the same indicator.

A term whose output the network does not produce (``coords`` in the phase-1 network of §3.3) is
left out. Eq. 4's weight decay β‖w‖² is not a term here: ``train.weight_decay`` applies it to the
kernels in the optimizer (``training.optim``).

Flip test: the mirrored crop's coordinates come back as ``c → 1 − c`` in x (``x → S − 1 − x`` in
pixels) with left/right swapped, and are averaged with the crop's; presence probabilities are
averaged the same way. No multi-scale test.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxpose import losses
from jaxpose.codecs import coords as coords_codec
from jaxpose.errors import ConfigError
from jaxpose.families.base import Family


class CoordFamily(Family):
  name = "coords"

  # term -> the output key it needs
  _TERMS = {"coords": "coords", "visibility": "visibility_logits"}

  def __init__(self, config):
    super().__init__(config)
    self.codec = coords_codec.CoordCodec.from_config(config.data)

  def targets(self):
    return ("coords", "present")

  def check_outputs(self, outputs):
    keys = tuple(self._TERMS.values())  # the outputs the family's terms read
    if not any(k in outputs for k in keys):
      raise ConfigError(f"model {self.config.model.name!r} ({self.name} family) has neither a "
                        f"{' nor a '.join(repr(k) for k in keys)} output (it has "
                        f"{', '.join(sorted(outputs))})")
    k = self.skeleton.num_joints
    for c in outputs.get("coords", ()):
      if tuple(c.shape[1:]) != (k, 2):
        raise ConfigError(f"model {self.config.model.name!r}: coords of shape {tuple(c.shape)}, "
                          f"expected (B, {k}, 2) for the {self.skeleton.name} skeleton")

  def loss_terms(self):
    return {"coords": self._coords_loss, "visibility": self._visibility_loss}

  def _coords_loss(self, out, batch):
    weight = batch["present"] if "visibility_logits" in out else batch["target_weight"]
    return sum(losses.coords_mse(c, batch["coords"], weight) for c in out["coords"])

  def _visibility_loss(self, out, batch):
    return losses.sigmoid_bce(out["visibility_logits"], batch["present"])

  def loss(self, outputs, batch):
    weights = self.loss_weights()
    terms = {t: fn(outputs, batch) for t, fn in self.loss_terms().items()
             if self._TERMS[t] in outputs}
    if not terms:
      raise ValueError(f"model outputs {sorted(outputs)} feed no {self.name} loss term "
                       f"(terms need {sorted(self._TERMS.values())})")
    return sum(weights[t] * v for t, v in terms.items()), terms

  def final(self, outputs):
    out = {}
    if "coords" in outputs:
      out["coords"] = outputs["coords"][-1].astype(jnp.float32)
    if "visibility_logits" in outputs:
      out["visibility"] = jax.nn.sigmoid(outputs["visibility_logits"].astype(jnp.float32))
    return out

  def flip_merge(self, final, flipped):
    perm = self.flip_perm
    out = {}
    if "coords" in final:
      back = coords_codec.flip(flipped["coords"])[:, perm]
      out["coords"] = 0.5 * (final["coords"] + back)
    if "visibility" in final:
      out["visibility"] = 0.5 * (final["visibility"] + flipped["visibility"][:, perm])
    return out

  def decode(self, final):
    if "coords" in final:
      joints = self.codec.decode(final["coords"])
    else:  # a phase-1 network (§3.3): presence only; joints are NaN, scored as misses
      joints = jnp.full(final["visibility"].shape + (2,), jnp.nan, jnp.float32)
    out = {"keypoints": joints}
    if "visibility" in final:
      out["visibility"] = final["visibility"]
      out["scores"] = final["visibility"]
    else:
      out["scores"] = jnp.ones(joints.shape[:-1], jnp.float32)
    return out
