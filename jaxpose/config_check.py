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
  if "heatmap_size" in data:
    _positive(config, "data.heatmap_size")
  if float(data.get("sigma", 1.0)) <= 0:
    raise ConfigError(f"data.sigma={data.sigma}: must be > 0")
  if float(data.get("scale_pad", 1.25)) <= 0:
    raise ConfigError(f"data.scale_pad={data.scale_pad}: must be > 0")


def check_model(config, family) -> None:
  """The joint count and an abstract trace of the network on one crop."""
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
  family.check_outputs(outputs)


def check_evaluation(config, family=None) -> None:
  family = family or families.get(config)
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
    if "pred_visible" in needs and not family.predicts_visibility:
      raise ConfigError(f"eval.metrics: {name!r} needs predicted joint visibility, which the "
                        f"{family.name} family of model {family.config.model.name!r} does not "
                        "predict")


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
  check_data(config)
  family = families.get(config)
  grouping = config.model.get("grouping")
  if not (grouping and not config.model.get("groups")):  # PBN: checked once resolved
    check_model(config, family)
  check_evaluation(config, family)
