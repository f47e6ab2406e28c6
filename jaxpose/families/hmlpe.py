"""The HMLPE family (Li, Liu & Chan 2014): joint regression trained together with
sliding-window body-part detectors on shared features (``jaxpose.models.hmlpe``).

Outputs: ``coords``, a one-entry tuple of (B, K, 2) box-normalised coordinates (§3.1, in
[0, 1], the library's ``(x + 0.5) / S``), and ``part_logits`` (B, P, L), one logistic
classifier C_{p,l} per body part and window (§3.2); a network built with ``heads`` may have
only one of them.

Loss, the global cost of eq. (4), per image and averaged over the batch:

    Φ = λ_r · Σ_i ‖Ĵ_i − J_i‖²  +  λ_d · Σ_p Σ_l E_d(ŷ_{p,l}, y_{p,l})

- ``coords`` (λ_r = ``loss.weights.coords``): eq. (1) summed over the K joints of an image,
  coordinates normalised by the box (the crop side) so that they lie in [0, 1], as §3.1 does;
  joints with ``target_weight`` 0 (unannotated, or pushed out of the crop by augmentation)
  count nothing. Unlike the course report's regressors (``families.coords``), which average
  over B·K·2 values, this is the sum of eq. (4), because the ratio λ_r/λ_d of Table 3 is
  defined between these sums: with a mean per value the same ratio would weigh detection
  448/16 = 28 times differently.
- ``parts`` (λ_d = ``loss.weights.parts``): eq. (3), the cross-entropy of every classifier
  against the window labels of eq. (2) (``batch["part_windows"]``, built by the pipeline with
  ``data.part_windows``: β = 0.3, 30×30 windows on an 8×8 grid over 112×112), summed over the
  P·L classifiers of an image. A part with an unannotated end has no label (eq. 2 needs the
  stick): its L classifiers are left out (the pipeline's labels for it are all 0, which would
  be a false "absent"). §4.1 trains without occluded parts, so by default every part counts.

λ_d = 0 (or λ_r = 0) turns a task off: its term is still reported, but its gradient is 0, so
its sub-network stays at its initialisation and the shared layers learn from the other task
alone (§4.5's "regression only" column is λ_R/λ_P = ∞: ``loss.weights.parts=0``). A network
without the task's head (``model.heads``) has no such term.

Prediction: the regressed coordinates (flip test: mirror x, swap left/right, average, as
``families.coords``); no multi-scale test. ``decode`` adds ``parts`` (B, P, L), the detection
probabilities, which ``inference.predict_split`` passes on as they are, beside the window
labels of the evaluation crops (``eval_inputs``: ``part_windows``) for the detection error
and accuracy of ``evaluation.metrics`` (``detection``). The joint scores are 1 (the network
gives no per-joint confidence).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxpose.errors import ConfigError
from jaxpose.families.coords import CoordFamily


def regression_error(pred, target, weight):
  """Eq. (1) summed over the joints of each image, averaged over the batch: (B, K, 2)
  normalised coordinates, (B, K) weights."""
  err = jnp.sum(jnp.square(pred.astype(jnp.float32) - target), axis=-1) * weight
  return jnp.mean(jnp.sum(err, axis=-1))


def detection_error(logits, labels, part_valid):
  """Eq. (3) summed over the P·L classifiers of each image, averaged over the batch:
  (B, P, L) logits and 0/1 labels, (B, P) 1 where the part's label is defined."""
  ce = optax.sigmoid_binary_cross_entropy(logits.astype(jnp.float32), labels)
  return jnp.mean(jnp.sum(ce * part_valid[..., None], axis=(-2, -1)))


class HMLPEFamily(CoordFamily):
  name = "hmlpe"

  _TERMS = {"coords": "coords", "parts": "part_logits"}

  def __init__(self, config):
    super().__init__(config)
    parts = self.skeleton.parts
    self.part_ends = np.asarray([(a, b) for _, a, b in parts], np.int32).reshape(-1, 2)
    # Mirroring a crop maps part p onto part part_flip[p] and window (r, c) onto (r, g-1-c).
    perm = self.flip_perm
    ends = {tuple(e): i for i, e in enumerate(self.part_ends.tolist())}
    self.part_flip = np.asarray(
        [ends.get((int(perm[a]), int(perm[b])), ends.get((int(perm[b]), int(perm[a])), -1))
         for a, b in self.part_ends], np.int32)
    g = int(config.data.part_windows.grid)
    self.window_flip = np.arange(g * g).reshape(g, g)[:, ::-1].reshape(-1)

  def targets(self):
    return ("coords", "part_windows")

  def eval_inputs(self):
    return ("part_windows",) if "part_logits" in self.output_shapes() else ()

  def check_outputs(self, outputs):
    super().check_outputs(outputs)  # a coords or part_logits output; coords of K joints
    if "part_logits" in outputs:
      p, g = len(self.part_ends), int(self.config.data.part_windows.grid)
      shape = tuple(outputs["part_logits"].shape[1:])
      if shape != (p, g * g):
        raise ConfigError(
            f"model {self.config.model.name!r}: part_logits of shape (B, {shape[0]}, {shape[1]}), "
            f"but the {self.skeleton.name} skeleton has {p} parts and data.part_windows.grid={g} "
            f"gives {g * g} windows: set model.num_parts={p}, model.num_windows={g * g}")

  def check(self, config):
    super().check(config)
    if -1 in self.part_flip.tolist():
      raise ConfigError(f"data.skeleton {self.skeleton.name!r}: a part has no mirror image "
                        "among its parts (the flip test and mirroring need one)")

  def loss_terms(self):
    return {"coords": self._coords_loss, "parts": self._parts_loss}

  def _coords_loss(self, out, batch):
    return sum(regression_error(c, batch["coords"], batch["target_weight"])
               for c in out["coords"])

  def part_valid(self, batch):
    """(B, P) 1 where both ends of the part are annotated (eq. 2 has a stick)."""
    v = batch["valid"]
    return v[:, self.part_ends[:, 0]] * v[:, self.part_ends[:, 1]]

  def _parts_loss(self, out, batch):
    return detection_error(out["part_logits"], batch["part_windows"], self.part_valid(batch))

  def final(self, outputs):
    out = super().final(outputs)  # the coordinates of the last stage
    if "part_logits" in outputs:
      out["parts"] = jax.nn.sigmoid(outputs["part_logits"].astype(jnp.float32))
    return out

  def flip_merge(self, final, flipped):
    out = {}
    if "coords" in final:
      out.update(super().flip_merge({"coords": final["coords"]},
                                    {"coords": flipped["coords"]}))
    if "parts" in final:
      back = flipped["parts"][:, self.part_flip][:, :, self.window_flip]
      out["parts"] = 0.5 * (final["parts"] + back)
    return out

  def decode(self, final):
    if "coords" in final:
      joints = self.codec.decode(final["coords"])
    else:  # detection only (§4.5, λ_R/λ_P = 0): no joints, scored as misses
      joints = jnp.full((final["parts"].shape[0], self.skeleton.num_joints, 2), jnp.nan,
                        jnp.float32)
    out = {"keypoints": joints, "scores": jnp.ones(joints.shape[:-1], jnp.float32)}
    if "parts" in final:
      out["parts"] = final["parts"]
    return out
