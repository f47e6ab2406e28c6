"""The coordinate family: networks that regress joint coordinates directly (the course
report's regressors with a joint-visibility head, §2.1–2.2; DeepPose stages; HMLPE's
regression task).

Outputs (DESIGN.md): ``coords``, a tuple of (B, K, 2) normalised crop coordinates
(``(x + 0.5) / S``, x first), one per stage, last = final; optionally ``visibility_logits``
(B, K), one presence logit per joint (eq. 1–3: ŷ = [ω̂ û v̂]).

Losses: ``coords`` — squared error over every stage's coordinates of the joints that count
(``batch["present"]`` — annotated, visible and inside the crop — when the network predicts
presence, as §2.1 ignores an absent joint's coordinates; else ``target_weight``: annotated and
inside the crop); ``visibility`` — binary cross-entropy of the presence logits against
``present`` (eq. 5, with ω ∈ {0, 1}). A term whose output the network does not produce (e.g.
``coords`` in the phase-1 network of §3.3) is left out.

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

  @property
  def predicts_visibility(self):
    return "visibility_logits" in self.output_shapes()

  def check_outputs(self, outputs):
    if "coords" not in outputs and "visibility_logits" not in outputs:
      raise ConfigError(f"model {self.config.model.name!r} ({self.name} family) has neither a "
                        f"'coords' nor a 'visibility_logits' output (it has "
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
      out["visible"] = jax.nn.sigmoid(outputs["visibility_logits"].astype(jnp.float32))
    return out

  def flip_merge(self, final, flipped):
    perm = self.flip_perm
    out = {}
    if "coords" in final:
      back = coords_codec.flip(flipped["coords"])[:, perm]
      out["coords"] = 0.5 * (final["coords"] + back)
    if "visible" in final:
      out["visible"] = 0.5 * (final["visible"] + flipped["visible"][:, perm])
    return out

  def decode(self, final):
    if "coords" in final:
      joints = self.codec.decode(final["coords"])
    else:  # a phase-1 network (§3.3): presence only; joints are NaN, scored as misses
      joints = jnp.full(final["visible"].shape + (2,), jnp.nan, jnp.float32)
    out = {"joints": joints}
    if "visible" in final:
      out["visible"] = final["visible"]
      out["score"] = final["visible"]
    else:
      out["score"] = jnp.ones(joints.shape[:-1], jnp.float32)
    return out
