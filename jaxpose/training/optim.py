"""Optimizers and learning-rate schedules from the config (optax), weight decay on kernels only,
and frozen parameters.

Frozen parameters (``train.frozen``, ``train.trainable``): the top-level parameter collections
(``conv1``, ``fc1``, ``reg_out``, ``stem``, ``hg0`` …) are matched by name prefix. A collection is
frozen when its name starts with a ``train.frozen`` prefix, or when ``train.trainable`` is set and
its name starts with none of those. Frozen collections get no update (``optax.multi_transform``
with ``set_to_zero``, so they hold no optimizer state either), no weight decay, and keep their
BatchNorm statistics (``step.make_train_step``): after any number of steps they are
bit-identical. That is the second phase of the course report's two-phase training (Chen et al.
§3.3: "first train the classification head and then append two fully connected layers at the
branch point to train regression head"): ``train.trainable=("reg_",)`` trains only the
regressors' ``reg_*`` branch (``models.regressors.REGRESSION_PREFIX``), any family can freeze its
own layers the same way.
"""
from __future__ import annotations

from typing import Callable

import jax
import optax

from jaxpose.config_check import frozen_predicate

FROZEN, TRAINABLE = "frozen", "trainable"


def schedule(cfg, total_steps: int, steps_per_epoch: int) -> optax.Schedule:
  """The learning rate per step: optional linear warm-up, then constant / piecewise / cosine.

  ``schedule.boundaries`` are read in ``schedule.boundary_unit``: 'epoch' (the papers'
  "÷10 at epochs 170 and 220"), 'step', or 'fraction' of the whole run. Every boundary
  multiplies the rate by ``schedule.decay`` once (boundaries that round to the same step
  too); one at or before the end of the warm-up takes effect when the warm-up ends.
  """
  s = cfg.schedule
  lr = float(cfg.learning_rate)
  warmup = int(s.get("warmup_steps", 0))
  name = s.get("name", "constant")
  if name == "constant":
    main = optax.constant_schedule(lr)
  elif name == "piecewise":
    unit = s.get("boundary_unit", "epoch")
    factor = {"epoch": steps_per_epoch, "step": 1, "fraction": total_steps}[unit]
    decay, bounds = float(s.get("decay", 0.1)), {}
    for b in s.get("boundaries", ()):  # a step count into `main`, which starts after the warm-up
      k = max(0, max(1, int(round(b * factor))) - warmup)
      bounds[k] = bounds.get(k, 1.0) * decay
    main = optax.piecewise_constant_schedule(lr, bounds)
  elif name == "cosine":
    main = optax.cosine_decay_schedule(lr, max(1, total_steps - warmup))
  else:
    raise ValueError(f"train.schedule.name={name!r}; expected constant, piecewise or cosine")
  if warmup <= 0:
    return main
  return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), main], [warmup])


def decay_mask(params):
  """True on the convolution and dense kernels (leaves named ``kernel``), False on biases and
  BatchNorm scales/offsets: the weights ``w`` of the course report's eq. 4 penalty (Chen et al.
  §2.2), as AlexNet and VGG decay them (Krizhevsky et al. 2012 §5; Simonyan & Zisserman §3.1)."""
  def is_kernel(path, _):
    last = path[-1] if path else None
    return getattr(last, "key", getattr(last, "name", None)) == "kernel"
  return jax.tree_util.tree_map_with_path(is_kernel, params)


def frozen_labels(is_frozen: Callable[[str], bool]) -> Callable:
  """``params -> {FROZEN | TRAINABLE}`` per leaf, for ``optax.multi_transform``."""
  def labels(params):
    return {k: jax.tree_util.tree_map(lambda _, f=is_frozen(k): FROZEN if f else TRAINABLE, v)
            for k, v in params.items()}
  return labels


def describe_frozen(cfg, params, is_frozen: Callable[[str], bool]) -> str:
  """One line for the training log: which top-level parameters are frozen, which train."""
  frozen = sorted(k for k in params if is_frozen(k))
  trainable = sorted(k for k in params if not is_frozen(k))
  count = sum(x.size for k in trainable for x in jax.tree_util.tree_leaves(params[k]))
  return (f"frozen (train.frozen={tuple(cfg.get('frozen', ()))}, train.trainable="
          f"{tuple(cfg.get('trainable', ()))}): {', '.join(frozen) or 'none'}; training "
          f"{', '.join(trainable) or 'nothing'} ({int(count):,} parameters)")


def optimizer(cfg, lr: optax.Schedule) -> optax.GradientTransformation:
  """RMSProp with Torch semantics (the hourglass papers' recipe), Adam, or SGD + momentum.

  ``train.weight_decay`` = λ adds λ·w to the gradient of every kernel ``w`` before the optimizer
  (``decay_mask``): the gradient of (λ/2)‖w‖², i.e. eq. 4's β_p = λ/2 (Chen et al. §2.2) — L2
  regularisation of the loss, not AdamW's decoupled decay. Frozen parameters (module docstring)
  are wrapped in ``multi_transform(..., set_to_zero)``; without frozen parameters and without
  decay the transformation (and its state, as stored in checkpoints) is the plain optimizer.

  ``train.grad_clip`` = c > 0 rescales the gradient of the trainable parameters to global norm
  at most c before anything else (``optax.clip_by_global_norm``; Pascanu et al. 2013), for
  networks without normalisation layers whose gradients spike; 0 (the default) leaves it out.
  """
  name = cfg.optimizer.lower()
  if name == "rmsprop":
    # torch.optim.RMSprop(alpha=0.99, eps=1e-8): eps added outside the square root.
    tx = optax.rmsprop(lr, decay=0.99, eps=1e-8, eps_in_sqrt=False)
  elif name == "adam":
    tx = optax.adam(lr)
  elif name == "sgd":
    tx = optax.sgd(lr, momentum=float(cfg.get("momentum", 0.9)), nesterov=False)
  else:
    raise ValueError(f"train.optimizer={cfg.optimizer!r}; expected rmsprop, adam or sgd")
  wd = float(cfg.get("weight_decay", 0.0))
  if wd:
    tx = optax.chain(optax.add_decayed_weights(wd, mask=decay_mask), tx)
  clip = float(cfg.get("grad_clip", 0.0))
  if clip:
    tx = optax.chain(optax.clip_by_global_norm(clip), tx)
  is_frozen = frozen_predicate(cfg)
  if is_frozen is not None:
    tx = optax.multi_transform({TRAINABLE: tx, FROZEN: optax.set_to_zero()},
                               frozen_labels(is_frozen))
  return tx
