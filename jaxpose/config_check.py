"""Config values checked once, at start-up, against the family and the data.

``check_training(config, num_devices)`` and ``check_evaluation(config)`` raise one
``ConfigError`` whose message names the key, the value and what is allowed — before any
data is read or any step compiled, so a typo costs a second, not a traceback from deep in
the pipeline. The command-line tools print it as one line (exit status 2).

The network itself is checked by tracing it abstractly (``jax.eval_shape``: nothing is
allocated or compiled) on a ``data.image_size`` crop: an input size the network cannot take
fails here with the model's own message, and a heat-map network whose maps are not
``data.heatmap_size`` is refused.
"""
from __future__ import annotations

from typing import Callable, Optional

from jaxpose import families, models
from jaxpose.data import datasets
from jaxpose.errors import ConfigError
from jaxpose.evaluation import metrics as metrics_lib

OPTIMIZERS = ("rmsprop", "adam", "sgd")
SCHEDULES = ("constant", "piecewise", "cosine")
WHICH = ("latest", "best")


def _int(config, key: str) -> int:
  node = config
  for part in key.split("."):
    node = node[part]
  try:
    value = int(node)
  except (TypeError, ValueError):
    raise ConfigError(f"{key}={node!r}: expected an integer") from None
  if value != node:
    raise ConfigError(f"{key}={node!r}: expected an integer")
  return value


def _positive(config, key: str, minimum: int = 1) -> int:
  value = _int(config, key)
  if value < minimum:
    raise ConfigError(f"{key}={value}: must be >= {minimum}")
  return value


def check_data(config) -> None:
  data = config.data
  names = datasets.names()
  if data.name not in names:
    raise ConfigError(f"data.name={data.name!r}: known datasets are {', '.join(names)}")
  for key in ("train_split", "eval_split"):
    split = datasets.canonical_split(data.get(key))
    allowed = datasets.splits(data.name)
    if split not in allowed:
      raise ConfigError(f"data.{key}={data.get(key)!r}: dataset {data.name} has the splits "
                        f"{', '.join(allowed)}")
  _positive(config, "data.image_size", 8)
  if data.on_error not in ("raise", "skip"):
    raise ConfigError(f"data.on_error={data.on_error!r}: must be 'raise' or 'skip'")
  if int(data.limit) < 0:
    raise ConfigError(f"data.limit={data.limit}: must be >= 0 (0 = every record)")
  if "heatmap_size" in data:
    _positive(config, "data.heatmap_size")
  if float(data.get("sigma", 1.0)) <= 0:
    raise ConfigError(f"data.sigma={data.sigma}: must be > 0")
  if float(data.scale_pad) <= 0:
    raise ConfigError(f"data.scale_pad={data.scale_pad}: must be > 0")


def check_layer_forms(config) -> None:
  """``model.layer_forms``: the forms of the shared layers (``models.layers.LAYER_FORMS``);
  absent = "auto", the field's default (a model config written without it, or stored before
  issue #37)."""
  value = config.model.get("layer_forms", "auto")
  if value not in models.layers.LAYER_FORMS:
    raise ConfigError(f"model.layer_forms={value!r}: expected one of "
                      f"{', '.join(models.layers.LAYER_FORMS)} (auto = the cpu forms on the CPU "
                      "backend, XLA's own convolutions and pooling elsewhere)")


def check_model(config, family) -> None:
  """The joint count, the layer forms and an abstract trace of the network on one crop."""
  check_layer_forms(config)
  k = family.skeleton.num_joints
  if int(config.model.get("num_joints", k)) != k:
    raise ConfigError(f"model.num_joints={config.model.num_joints}, but dataset "
                      f"{config.data.name} ({family.skeleton.name} skeleton) has {k} joints; "
                      f"set --config.model.num_joints={k}")
  try:
    models.create(config.model)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  size = int(config.data.image_size)
  try:
    outputs = family.output_shapes()
  except (ValueError, TypeError) as e:
    raise ConfigError(f"data.image_size={size}: model {config.model.name} cannot take a "
                      f"{size}×{size} input: {e}") from None
  empty = sorted(k for k, v in outputs.items() if isinstance(v, (tuple, list)) and not v)
  if empty:
    raise ConfigError(f"model {config.model.name} as configured ({_fields(config.model)}) "
                      f"produces no {', '.join(empty)} (a stack, stage or branch count of 0?)")
  try:
    family.check_outputs(outputs)
  except (IndexError, KeyError, TypeError) as e:
    raise ConfigError(f"model {config.model.name} as configured ({_fields(config.model)}) "
                      f"does not give the outputs its family needs ({type(e).__name__}: {e})"
                      ) from None
  check_frozen(config)


def _fields(model_cfg) -> str:
  """The model's non-positive counts, the usual cause of a structure without outputs."""
  odd = [f"model.{k}={v}" for k, v in sorted(model_cfg.items())
         if isinstance(v, int) and not isinstance(v, bool) and v <= 0]
  return ", ".join(odd) or "its settings"


def frozen_predicate(cfg) -> Optional[Callable[[str], bool]]:
  """``name -> bool`` over top-level parameter names (True = frozen) from ``train.frozen`` and
  ``train.trainable`` (``training.optim``'s docstring); ``None`` when nothing is frozen."""
  frozen = tuple(str(p) for p in cfg.frozen or ())
  trainable = tuple(str(p) for p in cfg.trainable or ())
  if not frozen and not trainable:
    return None

  def is_frozen(name: str) -> bool:
    if any(name.startswith(p) for p in frozen):
      return True
    return bool(trainable) and not any(name.startswith(p) for p in trainable)
  return is_frozen


def check_frozen(config) -> None:
  """``train.frozen`` / ``train.trainable`` (``training.optim``, top-level parameter-name
  prefixes): tuples of non-empty strings, each prefix matching a layer of the network, leaving
  something to train, and with ``init_from`` to take the frozen layers from (Chen et al. §3.3:
  phase 2 starts from the phase-1 run)."""
  t = config.train
  given = {key: t.get(key, ()) or () for key in ("frozen", "trainable")}
  if not any(given.values()):
    return
  import jax
  import jax.numpy as jnp
  size = int(config.data.image_size)
  model = models.create(config.model)
  shapes = jax.eval_shape(lambda r: model.init({"params": r, "dropout": r},
                                               jnp.zeros((1, size, size, 3)), train=False),
                          jax.random.PRNGKey(0))
  names = sorted(set(shapes.get("params", {})) | set(shapes.get("batch_stats", {})))
  for key, prefixes in given.items():
    if isinstance(prefixes, str) or not all(isinstance(p, str) and p for p in prefixes):
      raise ConfigError(f"train.{key}={prefixes!r}: expected a tuple of parameter-name prefixes, "
                        f"e.g. ({names[0]!r},)")
    for p in prefixes:
      if not any(n.startswith(p) for n in names):
        raise ConfigError(f"train.{key}: prefix {p!r} matches no parameter of model "
                          f"{config.model.name} (its top-level parameters: {', '.join(names)})")
  is_frozen = frozen_predicate(t)
  if all(is_frozen(n) for n in names):
    raise ConfigError(f"train.frozen={tuple(given['frozen'])}, train.trainable="
                      f"{tuple(given['trainable'])}: every parameter of model "
                      f"{config.model.name} is frozen; nothing would train")
  if not config.get("init_from"):
    raise ConfigError(f"train.frozen={tuple(given['frozen'])}, train.trainable="
                      f"{tuple(given['trainable'])} freeze parameters, but init_from is empty: "
                      "they would keep their random initialisation. Set "
                      "--config.init_from=WORKDIR (e.g. the phase-1 run)")


def family_of(config):
  """``families.get(config)``, an unknown ``model.name`` as a ``ConfigError``."""
  try:
    return families.get(config)
  except (ValueError, ImportError, AttributeError) as e:
    raise ConfigError(f"model.name={config.model.get('name')!r}: {e}") from None


def check_evaluation(config, family=None) -> None:
  family = family or family_of(config)
  ev = config.eval
  _positive(config, "eval.batch_size")
  which = ev.get("checkpoint", "latest")
  if which not in WHICH:
    raise ConfigError(f"eval.checkpoint={which!r}: expected one of {', '.join(WHICH)}")
  names = list(ev.get("metrics", ()))
  if not names:
    raise ConfigError("eval.metrics is empty; give at least one, e.g. pckh@0.5")
  check_metrics(names, family)
  family.check(config)


def check_metrics(names, family) -> None:
  for name in names:
    try:
      needs = metrics_lib.requirements(name)
    except ValueError as e:
      raise ConfigError(f"eval.metrics: {e}") from None
    # What the data gives is checked when it is read; the rest comes from the family: a key of
    # its prediction or an evaluation input it asks the pipeline for.
    missing = sorted(set(needs) - set(metrics_lib.GROUND_TRUTH))
    if missing:  # (only then trace the network: most metrics need nothing from it)
      missing = sorted(set(missing) - set(family.prediction_keys()) - set(family.eval_inputs()))
    if missing:
      what = {"visibility": "predicted joint visibility", "parts": "part detectors",
              "part_windows": "part detectors"}.get(missing[0], repr(missing[0]))
      raise ConfigError(f"eval.metrics: {name!r} needs {what}, which the {family.name} family "
                        f"of model {family.config.model.name!r} does not predict (its "
                        f"prediction: {', '.join(family.prediction_keys())})")


def check_training(config, num_devices: int = 1) -> None:
  """Everything ``train.py`` reads, in the order a user meets it."""
  t = config.train
  batch = _positive(config, "train.batch_size")
  if batch % num_devices:
    raise ConfigError(f"train.batch_size={batch} must be divisible by the {num_devices} devices")
  steps, epochs = _int(config, "train.num_steps"), _int(config, "train.num_epochs")
  for key, value in (("train.num_steps", steps), ("train.num_epochs", epochs)):
    if value < -1:
      raise ConfigError(f"{key}={value}: must be > 0 (or -1 = unset)")
  if steps <= 0 and epochs <= 0:
    raise ConfigError(f"train.num_steps={steps}, train.num_epochs={epochs}: set one of them "
                      "to a positive number")
  for key in ("train.log_every", "train.eval_every", "train.checkpoint_every"):
    _positive(config, key, 0)
  _positive(config, "train.keep_checkpoints")
  if str(t.optimizer).lower() not in OPTIMIZERS:
    raise ConfigError(f"train.optimizer={t.optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
  if not float(t.learning_rate) > 0:
    raise ConfigError(f"train.learning_rate={t.learning_rate}: must be > 0")
  name = t.schedule.get("name", "constant")
  if name not in SCHEDULES:
    raise ConfigError(f"train.schedule.name={name!r}: expected one of {', '.join(SCHEDULES)}")
  if float(t.get("weight_decay", 0.0)) < 0:
    raise ConfigError(f"train.weight_decay={t.weight_decay}: must be >= 0")
  if not float(t.grad_clip) >= 0:
    raise ConfigError(f"train.grad_clip={t.grad_clip}: must be >= 0 (0 = no clipping)")
  check_layer_forms(config)
  check_data(config)
  family = family_of(config)
  grouping = config.model.get("grouping")
  if not (grouping and not config.model.get("groups")):  # PBN: checked once resolved
    check_model(config, family)
  check_evaluation(config, family)
