"""jaxpose: 2-D single-person human pose estimation in JAX/Flax.

The networks of HMLPE (Li, Liu & Chan 2014), PBN (Tang & Wu 2019), Chen et al.'s coordinate
regressors, DeepPose cascade and Convolutional Pose Machines, and the multi-scale supervised
network (Ke et al. 2018), with their training recipes, data readers and benchmark metrics.

``import jaxpose`` is cheap and imports neither jax nor tensorflow; each subpackage loads on
first use::

  import jaxpose
  model = jaxpose.models.create(config.model)      # flax.linen modules (jaxpose.models)
  predictor = jaxpose.inference.Predictor.from_checkpoint("runs/default")

Command lines: ``jaxpose-train`` / ``jaxpose-evaluate`` (``python train.py`` / ``evaluate.py`` in a
checkout) and ``python -m jaxpose.predict | export | visualize | grouping``.
"""
import importlib

__version__ = "0.1.0"

_SUBMODULES = ("checkpoint", "codecs", "config_check", "configs", "crops", "data", "errors",
               "evaluation", "export", "families", "formats", "grouping", "inference", "losses",
               "models", "predict", "runtime", "skeleton", "training", "visualize", "zoo")


def __getattr__(name):
  if name in _SUBMODULES:
    return importlib.import_module(f"{__name__}.{name}")
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
  return sorted(list(globals()) + list(_SUBMODULES))
