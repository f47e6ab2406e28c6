"""The training loop: data, step, periodic validation, checkpoints, summaries.

One device: the step is ``jax.jit``-ed. Several devices (local or across hosts): the
same step under ``jax.pmap`` with axis ``"batch"``, each device fed its shard of the
host batch, each host reading its own shard of the data. Resumes from the latest
checkpoint in the workdir and continues with exactly the batches it would have seen.

What only some runs need is reached through calls made for every config, so the loop names
no model: part groups resolved at start-up (``grouping.resolve_for_training``, a no-op for a
model without ``model.grouping``), where the batches come from and what validates
(``training.cascade.stage_hooks``: DeepPose's refining stages), the parameters of another run
(``init_from``: ``checkpoint.initialise_from``).
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable, NamedTuple, Optional

import flax.jax_utils
import jax
import numpy as np
from tqdm import tqdm

from jaxpose import checkpoint, config_check, families, grouping, inference, models
from jaxpose.training import cascade, optim
from jaxpose.training import state as state_lib
from jaxpose.training.step import make_train_step

AXIS = "batch"


class TrainingDiverged(RuntimeError):
  pass


def train(config, workdir: str, stop_at: int | None = None) -> dict:
  """Trains ``config`` into ``workdir``; returns the last validation results (or {}).

  ``stop_at`` ends this run after that step (and its checkpoint, if one is due) as a
  preempted job would; running again resumes from the latest checkpoint.
  """
  from jaxpose.data import pipeline  # noqa: F401 (tf, imported by the data side only, first)
  chief, use_pmap = jax.process_index() == 0, jax.device_count() > 1
  config_check.check_training(config, jax.device_count())
  hooks = cascade.stage_hooks(config)  # batches and validation (a DeepPose refining stage's)
  mngr, latest, saved = _open_checkpoints(workdir, int(config.train.keep_checkpoints), chief)
  config, family = _resolve_model(config, saved, workdir, chief)
  t, plan = config.train, _plan(config, use_pmap)
  state = create_state(config, plan.model, plan.tx)
  state = restore_or_initialise(config, state, mngr, latest, saved, workdir, chief)
  start = int(state.step)
  if chief:
    checkpoint.save_config(workdir, config)
    _announce(config, family, state, plan)
  state, step_fn = _compile(family, plan, state, use_pmap)
  batches = hooks.batches(config, family, start, workdir, chief)
  validator = Validator(config, hooks.predictor)
  log = _Log(workdir, chief, plan.total, start, int(t.batch_size))
  # The first local replica as host numpy arrays (also valid across hosts, where the
  # pmapped state is a global array whose device 0 may live on another process).
  host_state = lambda: state_lib.first_replica(state) if use_pmap else state
  results, pending = {}, []
  for step in range(start + 1, plan.total + 1):
    batch = next(batches)
    state, metrics = step_fn(state, _shard(batch, jax.local_device_count()) if use_pmap
                             else batch)
    pending.append((step, metrics))
    log.bar.update(1)
    if _due(step, int(t.log_every), plan.total):
      log.train(step, _check_and_average(pending, mngr))
      pending = []
    ckpt_metrics = None
    if _due(step, int(t.eval_every), plan.total):
      results = validator(host_state().variables, step)
      ckpt_metrics = validator.checkpoint_metrics(results)
      log.validation(step, results, ckpt_metrics)
    if _due(step, int(t.checkpoint_every), plan.total) or ckpt_metrics is not None:
      _check_and_average(pending, mngr)  # never checkpoint a diverged state
      checkpoint.save(mngr, step, host_state(), config, ckpt_metrics)
    if stop_at is not None and step >= stop_at:
      break
  log.close()
  mngr.close()
  return results


# ------------------------------------------------------------------------------- start-up

class _Plan(NamedTuple):
  """What the config makes of the run: its length, schedule, optimizer, network, frozen part."""
  total: int  # steps
  steps_per_epoch: int
  lr: Callable
  tx: Any
  model: Any
  is_frozen: Optional[Callable[[str], bool]]  # top-level parameter name → frozen (None: none)


def _plan(config, use_pmap: bool) -> _Plan:
  """BatchNorm statistics are synchronised across devices under ``pmap`` unless
  ``train.sync_batch_norm`` is false."""
  from jaxpose.data import pipeline  # tf is imported only by the data side
  t = config.train
  spe = pipeline.steps_per_epoch(config)
  total = _num_steps(config, spe)
  lr = optim.schedule(t, total, spe)
  tx = optim.optimizer(t, lr)
  sync_bn = use_pmap and bool(t.get("sync_batch_norm", True))
  model = models.create(config.model, bn_axis_name=AXIS if sync_bn else None)
  return _Plan(total, spe, lr, tx, model, config_check.frozen_predicate(t))


def _num_steps(config, steps_per_epoch: int) -> int:
  t = config.train
  if int(t.get("num_steps", -1)) > 0:
    return int(t.num_steps)
  return int(t.num_epochs) * steps_per_epoch  # config_check: one of the two is positive


def _open_checkpoints(workdir: str, keep: int, chief: bool):
  """The checkpoint manager, the step to resume from (None: a new run) and its config."""
  mngr = _manager(workdir, keep)
  latest = _newest_intact(mngr, workdir, keep, chief)
  mngr = _manager(workdir, keep) if latest != mngr.latest_step() else mngr
  saved = checkpoint.restore_config(mngr, latest) if latest is not None else None
  return mngr, latest, saved


def _resolve_model(config, saved, workdir: str, chief: bool):
  """``config`` with its model's start-up keys resolved (part groups from ``model.grouping``;
  a model without them passes through), and its family."""
  config, resolved = grouping.resolve_for_training(config, saved, workdir, chief)
  family = families.get(config)
  if resolved:  # check_training leaves an unresolved model to be checked here
    config_check.check_model(config, family)
  return config, family


def _announce(config, family, state, plan: _Plan) -> None:
  t = config.train
  print(f"model {config.model.name} ({family.name} family): "
        f"{state_lib.num_params(state.params):,} parameters; {plan.total} steps "
        f"({plan.steps_per_epoch} per epoch), global batch {int(t.batch_size)} on "
        f"{jax.device_count()} devices", flush=True)
  if plan.is_frozen is not None:
    print(optim.describe_frozen(t, state.params, plan.is_frozen), flush=True)


def _compile(family, plan: _Plan, state, use_pmap: bool):
  """(state, step function): jitted on one device; pmapped, state replicated, on several."""
  step_fn = make_train_step(plan.model, plan.tx, family, axis_name=AXIS if use_pmap else None,
                            lr_fn=plan.lr, frozen=plan.is_frozen)
  if use_pmap:
    return (flax.jax_utils.replicate(state),
            jax.pmap(step_fn, axis_name=AXIS, donate_argnums=(0,)))
  return state, jax.jit(step_fn, donate_argnums=(0,))


def _manager(workdir: str, keep: int):
  try:
    return checkpoint.manager(workdir, keep=keep)
  except (OSError, ValueError) as e:  # a file where the folder belongs, no permission
    raise checkpoint.CheckpointError(
        f"cannot create {os.path.join(workdir, 'checkpoints')}: {e}") from None


def _newest_intact(mngr, workdir: str, keep: int, chief: bool):
  """The step to resume from: the newest checkpoint that verifies (``checkpoint.verify``).
  Newer damaged ones are reported on one line each and, by the chief, moved aside to
  ``checkpoints/damaged-STEP`` (kept for inspection; orbax ignores the name), so that the
  resumed run can save those steps again."""
  say = (lambda line: print(line, flush=True)) if chief else None
  step = checkpoint.newest_intact(mngr, say)
  if chief and step is not None and jax.process_count() == 1:
    for bad in [s for s in mngr.all_steps() if s > step]:
      src = os.path.join(workdir, "checkpoints", str(bad))
      dst = os.path.join(workdir, "checkpoints", f"damaged-{bad}")
      os.replace(src, dst if not os.path.exists(dst) else f"{dst}-{time.time_ns()}")
      print(f"moved the damaged checkpoint {src} to {dst}", flush=True)
  return step


def create_state(config, model, tx) -> state_lib.TrainState:
  """A fresh state: parameters initialised from ``config.seed``, optimizer state of ``tx``."""
  size = int(config.data.image_size)
  return state_lib.create(model, tx, jax.random.PRNGKey(int(config.seed)), (1, size, size, 3))


def restore_or_initialise(config, state, mngr, latest, saved, workdir: str, chief: bool):
  """Resume from the workdir's latest checkpoint (same network required), else start from
  ``init_from`` when set (fine-tuning), else keep the fresh ``state``."""
  if latest is not None:
    where = os.path.join(workdir, "checkpoints", str(latest))
    checkpoint.check_compatible(saved, config, where)
    state = checkpoint.restore_state(mngr, latest, state)
    if chief:
      print(f"resumed from {where}", flush=True)
    return state
  if config.get("init_from"):
    return _init_from(config, state, chief)
  return state


def _init_from(config, state, chief: bool = True):
  """The fresh ``state`` with what this network shares with ``init_from`` (a workdir's latest
  checkpoint or a step directory) copied in: ``checkpoint.initialise_from`` (the leaves copied,
  kept fresh, refused; frozen parameters must be in the checkpoint). The optimizer starts
  fresh."""
  _, variables, step, workdir = inference.restore(config.init_from)
  merged = checkpoint.initialise_from(
      {"params": state.params, "batch_stats": state.batch_stats}, variables,
      os.path.join(workdir, "checkpoints", str(step)), f"init_from={config.init_from}",
      is_frozen=config_check.frozen_predicate(config.train),
      say=(lambda line: print(line, flush=True)) if chief else None)
  return state.replace(**merged)


# ------------------------------------------------------------------------------- the steps

class Validator:
  """Validation during training: the inference path (``inference.evaluate``) on
  ``data.eval_split``, one predictor kept across evaluations (no recompilation).
  ``make_predictor(config, variables, step, flip=…)`` builds it (default: a ``Predictor`` of
  the network; a cascade's refining stage validates the whole cascade,
  ``training.cascade.RefiningStage.predictor``)."""

  def __init__(self, config, make_predictor=None):
    self.config = config
    self.make_predictor = make_predictor or cascade.Hooks().predictor
    self.predictor = None

  def __call__(self, variables, step: int) -> dict:
    if self.predictor is None:
      self.predictor = self.make_predictor(self.config, variables, step,
                                           flip=bool(self.config.eval.flip))
    self.predictor.update(variables, step)
    return inference.evaluate(self.predictor, self.config.data.eval_split)

  @staticmethod
  def checkpoint_metrics(results: dict) -> dict:
    """The checkpoint's score: the first metric's ``Total`` (e.g. PCKh@0.5 Total), named."""
    title, row = next(iter(results["metrics"].items()))
    return {checkpoint.BEST_METRIC: float(row["Total"]),
            checkpoint.METRIC_NAME: f"{title} Total"}


def _shard(batch: dict, n: int) -> dict:
  return jax.tree_util.tree_map(lambda x: x.reshape(n, x.shape[0] // n, *x.shape[1:]), batch)


def _due(step: int, every: int, last: int) -> bool:
  return step == last or (every > 0 and step % every == 0)


def _check_and_average(pending, mngr) -> dict:
  """Raises ``TrainingDiverged`` naming the first non-finite step; else the mean metrics."""
  if not pending:
    return {}
  fetched = jax.device_get([m for _, m in pending])
  for (step, _), m in zip(pending, fetched):
    loss = np.asarray(m["loss"])
    if not np.all(np.isfinite(loss)):
      good = checkpoint.last_good(mngr) or "none (no verified checkpoint was saved yet)"
      raise TrainingDiverged(f"loss is {loss.ravel()[0]} at step {step}; training stopped. "
                             f"Last good checkpoint: {good}")
  keys = fetched[-1].keys()
  return {k: float(np.mean([np.mean(m[k]) for m in fetched])) for k in keys}


class _Log:
  """The progress bar and the TensorBoard summaries (``WORKDIR/tensorboard``), on the chief."""

  def __init__(self, workdir: str, chief: bool, total: int, start: int, batch_size: int):
    import tensorflow as tf
    self.writer = (tf.summary.create_file_writer(os.path.join(workdir, "tensorboard"))
                   if chief else None)
    self.bar = tqdm(total=total, initial=start, desc="train", unit="step", disable=not chief,
                    dynamic_ncols=True)
    self.batch_size = batch_size
    self.tick, self.tick_step = time.perf_counter(), start

  def train(self, step: int, scalars: dict) -> None:
    now = time.perf_counter()
    scalars["images_per_sec"] = ((step - self.tick_step) * self.batch_size
                                 / max(now - self.tick, 1e-9))
    self.tick, self.tick_step = now, step
    self.bar.set_postfix(loss=f"{scalars['loss']:.3g}",
                         lr=f"{scalars.get('learning_rate', 0):.2g}")
    _write(self.writer, "train", scalars, step)

  def validation(self, step: int, results: dict, ckpt_metrics: dict) -> None:
    _write(self.writer, "val", _flat(results["metrics"]), step)
    self.bar.write(f"step {step}: validation {ckpt_metrics[checkpoint.METRIC_NAME]} "
                   f"{ckpt_metrics[checkpoint.BEST_METRIC]:.2f}")

  def close(self) -> None:
    self.bar.close()
    if self.writer is not None:
      self.writer.flush()


def _flat(metrics: dict) -> dict:
  return {f"{title}/{col}": v for title, row in metrics.items() for col, v in row.items()}


def _write(writer, prefix: str, scalars: dict, step: int) -> None:
  if writer is None:
    return
  import tensorflow as tf
  with writer.as_default(step=step):
    for k, v in scalars.items():
      if np.isfinite(v):
        tf.summary.scalar(f"{prefix}/{k}", v)
