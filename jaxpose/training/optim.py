"""Optimizers and learning-rate schedules from the config (optax)."""
from __future__ import annotations

import optax


def schedule(cfg, total_steps: int, steps_per_epoch: int) -> optax.Schedule:
  """The learning rate per step: optional linear warm-up, then constant / piecewise / cosine.

  ``schedule.boundaries`` are read in ``schedule.boundary_unit``: 'epoch' (the papers'
  "÷10 at epochs 170 and 220"), 'step', or 'fraction' of the whole run.
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
    bounds = {max(1, int(round(b * factor))) - warmup: float(s.get("decay", 0.1))
              for b in s.get("boundaries", ())}
    main = optax.piecewise_constant_schedule(lr, {k: v for k, v in bounds.items() if k > 0})
  elif name == "cosine":
    main = optax.cosine_decay_schedule(lr, max(1, total_steps - warmup))
  else:
    raise ValueError(f"train.schedule.name={name!r}; expected constant, piecewise or cosine")
  if warmup <= 0:
    return main
  return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), main], [warmup])


def optimizer(cfg, lr: optax.Schedule) -> optax.GradientTransformation:
  """RMSProp with Torch semantics (the hourglass papers' recipe), Adam, or SGD + momentum."""
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
    tx = optax.chain(optax.add_decayed_weights(wd), tx)
  return tx
