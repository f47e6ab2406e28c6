"""The family contract: what the trainer, the predictor, evaluation and the pictures need to
know about a kind of model, in one object (after mmpose's head + codec and scenic's
``BaseModel``).

A family is built once from a config (``families.get(config)``) and owns:

* **batch keys** — ``targets()``: what the training pipeline must build (the pipeline
  builds exactly those; configs do not list them); ``eval_inputs()``: what an evaluation
  batch must carry besides ``image`` and ``affine`` (e.g. ``image_scales`` for the
  multi-scale test of heat-map families; a cascade may ask for more than the crop).
* **loss terms** — ``loss_terms()``: ``{term: fn(outputs, batch) -> scalar}``, weighted by
  ``config.loss.weights.<term>`` (``None`` = 1). ``loss(outputs, batch)`` → (total, terms).
* **prediction** — ``final(outputs)``: the arrays of the model output that make the
  prediction (heat maps of the last stack; coordinates of the last stage and the visibility
  logits); ``flip_merge(final, final_of_mirror)``: the flip test in that representation;
  ``scale_merge(finals, scales)``: the multi-scale test, or a ``ValueError`` for families
  that cannot; ``decode(final)`` → the prediction in the library's one vocabulary, from
  decode to the JSON a user reads: ``{"keypoints": (B,K,2) crop pixels, "scores": (B,K),
  "visibility": (B,K) presence probability — only when the family predicts it}`` and any keys
  of the family's own (HMLPE's ``parts``). Inference, evaluation and the pictures pass every key
  through without naming it (``prediction_keys()``); a metric that reads one says so in its
  ``needs`` (``evaluation.metrics.register``).
  ``final``, ``flip_merge``, ``scale_merge`` and ``decode`` are pure jax functions: the
  predictor jits them together with the network.
* **pictures** — ``heatmap_panels(outputs, i)``: (title, (h, w, K) maps) columns for the
  heat-map figure; ``[]`` for families without heat maps.
* **checks** — ``check(config)``: config values the family cannot work with, as one
  ``ConfigError`` naming the key and the allowed values.

Everything here is jax/numpy: importing a family does not import tensorflow.
"""
from __future__ import annotations

from typing import Callable, ClassVar, Sequence

import numpy as np

from jaxpose.errors import ConfigError
from jaxpose.data import datasets


class Family:
  """Base of every model family (see the module docstring)."""

  name: ClassVar[str] = ""
  supports_multiscale: ClassVar[bool] = False

  def __init__(self, config):
    self.config = config
    self.image_size = int(config.data.image_size)
    self.skeleton = datasets.skeleton(config.data)
    self.flip_perm = np.asarray(self.skeleton.flip_permutation, np.int32)

  def output_shapes(self) -> dict:
    """The network's outputs on one ``data.image_size`` crop as ``jax.ShapeDtypeStruct``s
    (an abstract trace: nothing allocated or compiled; cached). A model that cannot take the
    input raises its own ``ValueError``."""
    if getattr(self, "_output_shapes", None) is None:
      import jax
      import jax.numpy as jnp
      from jaxpose import models
      model = models.create(self.config.model)
      x = jnp.zeros((1, self.image_size, self.image_size, 3), jnp.float32)
      self._output_shapes, _ = jax.eval_shape(
          lambda r: model.init_with_output({"params": r, "dropout": r}, x, train=False),
          jax.random.PRNGKey(0))
    return self._output_shapes

  def prediction_keys(self) -> tuple[str, ...]:
    """The keys of ``decode(final(outputs))`` for this network, sorted: an abstract trace on
    ``output_shapes()`` (nothing compiled)."""
    if getattr(self, "_prediction_keys", None) is None:
      import jax
      shapes = jax.eval_shape(lambda o: self.decode(self.final(o)), self.output_shapes())
      self._prediction_keys = tuple(sorted(shapes))
    return self._prediction_keys

  @property
  def predicts_visibility(self) -> bool:
    """Whether ``decode`` gives ``visibility`` (a presence probability per joint)."""
    return "visibility" in self.prediction_keys()

  def check_outputs(self, outputs: dict) -> None:
    """Raises ``ConfigError`` when the network's outputs do not fit the family and the data."""

  # ------------------------------------------------------------------------- training
  def targets(self) -> tuple[str, ...]:
    raise NotImplementedError

  def eval_inputs(self) -> tuple[str, ...]:
    return ()

  def loss_terms(self) -> dict[str, Callable]:
    raise NotImplementedError

  def loss_weights(self) -> dict[str, float]:
    """``config.loss.weights`` for this family's terms (unset = 1); a weight set for a term the
    family does not produce is a ``ConfigError`` naming it."""
    given = {}
    weights = self.config.get("loss", {}).get("weights", None)
    if weights is not None:
      given = {k: v for k, v in dict(weights).items() if v is not None}
    terms = self.loss_terms()
    unknown = sorted(set(given) - set(terms))
    if unknown:
      raise ConfigError(
          f"loss.weights.{unknown[0]}={given[unknown[0]]}: the {self.name} family has no "
          f"{unknown[0]!r} loss term (its terms: {', '.join(terms)})")
    return {t: float(given.get(t, 1.0)) for t in terms}

  def loss(self, outputs: dict, batch: dict):
    """Total loss and its named terms (unweighted), a pure jax function."""
    weights = self.loss_weights()
    terms = {t: fn(outputs, batch) for t, fn in self.loss_terms().items()}
    total = sum(weights[t] * v for t, v in terms.items())
    return total, terms

  # ----------------------------------------------------------------------- prediction
  def final(self, outputs: dict) -> dict:
    raise NotImplementedError

  def flip_merge(self, final: dict, flipped: dict) -> dict:
    raise NotImplementedError

  def scale_merge(self, finals: Sequence[dict], scales: Sequence[float]) -> dict:
    raise ValueError(f"the {self.name} family has no multi-scale test (it needs heat maps); "
                     "evaluate with eval.scales=(1.0,) / without --scales and --multiscale")

  def decode(self, final: dict) -> dict:
    raise NotImplementedError

  # ------------------------------------------------------------------------- pictures
  def heatmap_panels(self, outputs: dict, i: int = 0, stacks: bool = False) -> list:
    return []

  # --------------------------------------------------------------------------- checks
  def check(self, config) -> None:
    """Raises ``ConfigError`` for values this family cannot work with."""
    scales = tuple(config.eval.scales)
    if not self.supports_multiscale and tuple(float(s) for s in scales) != (1.0,):
      raise ConfigError(f"eval.scales={scales}: the {self.name} family has no multi-scale test "
                        "(only heat-map families have one); use eval.scales=(1.0,)")
    self.loss_weights()
