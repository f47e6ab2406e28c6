"""The training loop: data, step, periodic validation, checkpoints, summaries.

One device: the step is ``jax.jit``-ed. Several devices (local or across hosts): the
same step under ``jax.pmap`` with axis ``"batch"``, each device fed its shard of the
host batch, each host reading its own shard of the data. Resumes from the latest
checkpoint in the workdir and continues with exactly the batches it would have seen.
"""
from __future__ import annotations

import os
import time

import flax.jax_utils
import jax
import numpy as np
from tqdm import tqdm

from jaxpose import models
from jaxpose.training import checkpoint, optim
from jaxpose.training import state as state_lib
from jaxpose.training.step import make_train_step

AXIS = "batch"


class TrainingDiverged(RuntimeError):
  pass


def _num_steps(config, steps_per_epoch: int) -> int:
  t = config.train
  if int(t.get("num_steps", -1)) > 0:
    return int(t.num_steps)
  if int(t.get("num_epochs", -1)) > 0:
    return int(t.num_epochs) * steps_per_epoch
  raise ValueError("set train.num_steps or train.num_epochs to a positive number")


def _shard(batch: dict, n: int) -> dict:
  return jax.tree_util.tree_map(lambda x: x.reshape(n, x.shape[0] // n, *x.shape[1:]), batch)


def _due(step: int, every: int, last: int) -> bool:
  return step == last or (every > 0 and step % every == 0)


def train(config, workdir: str, stop_at: int | None = None) -> dict:
  """Trains ``config`` into ``workdir``; returns the last validation results (or {}).

  ``stop_at`` ends this run after that step (and its checkpoint, if one is due) as a
  preempted job would; running again resumes from the latest checkpoint.
  """
  from jaxpose.data import pipeline  # tf is imported only by the data side
  from jaxpose.evaluation import report
  from jaxpose.inference import Predictor
  import tensorflow as tf

  pidx, pcount = jax.process_index(), jax.process_count()
  n_local, n_global = jax.local_device_count(), jax.device_count()
  use_pmap = n_global > 1
  t = config.train
  global_batch = int(t.batch_size)
  if global_batch % n_global:
    raise ValueError(f"train.batch_size={global_batch} must be divisible by the "
                     f"{n_global} devices")
  from jaxpose.data import datasets
  k = datasets.skeleton(config.data).num_joints
  if int(config.model.get("num_joints", k)) != k:
    raise ValueError(f"model.num_joints={config.model.num_joints}, but dataset "
                     f"{config.data.name} ({datasets.skeleton(config.data).name} skeleton) has "
                     f"{k} joints; set --config.model.num_joints={k}")
  mngr = checkpoint.manager(workdir, keep=int(t.keep_checkpoints))
  latest = mngr.latest_step()
  saved = checkpoint.restore_config(mngr, latest) if latest is not None else None
  config = _resolve_groups(config, saved, workdir, pidx == 0)
  spe = pipeline.steps_per_epoch(config)
  total = _num_steps(config, spe)
  lr = optim.schedule(t, total, spe)
  tx = optim.optimizer(t, lr)
  sync_bn = use_pmap and bool(t.get("sync_batch_norm", True))
  model = models.create(config.model, bn_axis_name=AXIS if sync_bn else None)
  size = int(config.data.image_size)
  state = state_lib.create(model, tx, jax.random.PRNGKey(int(config.seed)), (1, size, size, 3))

  if latest is not None:
    where = os.path.join(workdir, "checkpoints", str(latest))
    checkpoint.check_compatible(saved, config, where)
    state = checkpoint.restore_state(mngr, latest, state)
    if pidx == 0:
      print(f"resumed from {where}", flush=True)
  elif config.get("init_from"):
    state = _init_from(config, state)
  if pidx == 0:
    checkpoint.save_config(workdir, config)
  start = int(state.step)
  if pidx == 0:
    print(f"model {config.model.name}: {state_lib.num_params(state.params):,} parameters; "
          f"{total} steps ({spe} per epoch), global batch {global_batch} on {n_global} devices",
          flush=True)

  step_fn = make_train_step(model, tx, config, axis_name=AXIS if use_pmap else None, lr_fn=lr)
  if use_pmap:
    step_fn = jax.pmap(step_fn, axis_name=AXIS, donate_argnums=(0,))
    state = flax.jax_utils.replicate(state)
  else:
    step_fn = jax.jit(step_fn, donate_argnums=(0,))
  batches = pipeline.train_iterator(config, global_batch, start, pidx, pcount)

  writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard")) if pidx == 0 else None
  results, pending, predictor = {}, [], None
  # The first local replica as host numpy arrays (also valid across hosts, where the
  # pmapped state is a global array whose device 0 may live on another process).
  host_state = lambda: state_lib.first_replica(state) if use_pmap else state
  bar = tqdm(total=total, initial=start, desc="train", unit="step", disable=pidx != 0,
             dynamic_ncols=True)
  tick, tick_step = time.perf_counter(), start
  for step in range(start + 1, total + 1):
    batch = next(batches)
    if use_pmap:
      batch = _shard(batch, n_local)
    state, metrics = step_fn(state, batch)
    pending.append((step, metrics))
    bar.update(1)
    if _due(step, int(t.log_every), total):
      scalars = _check_and_average(pending, mngr, workdir, use_pmap)
      pending = []
      now = time.perf_counter()
      scalars["images_per_sec"] = (step - tick_step) * global_batch / max(now - tick, 1e-9)
      tick, tick_step = now, step
      bar.set_postfix(loss=f"{scalars['loss']:.3g}", lr=f"{scalars.get('learning_rate', 0):.2g}")
      _write(writer, "train", scalars, step)
    metrics_for_ckpt = None
    if _due(step, int(t.eval_every), total):
      st = host_state()
      if predictor is None:
        predictor = Predictor(config, st.variables, step=step, flip=bool(config.eval.flip))
      predictor.update(st.variables, step)
      results = report.evaluate(predictor, config.data.eval_split)
      main = _main_metric(results)
      metrics_for_ckpt = {checkpoint.BEST_METRIC: main}
      _write(writer, "val", _flat(results["metrics"]), step)
      bar.write(f"step {step}: validation {next(iter(results['metrics']))} mean {main:.2f}")
    if _due(step, int(t.checkpoint_every), total) or metrics_for_ckpt is not None:
      _check_and_average(pending, mngr, workdir, use_pmap)  # never checkpoint a diverged state
      checkpoint.save(mngr, step, host_state(), config, metrics_for_ckpt)
    if stop_at is not None and step >= stop_at:
      break
  bar.close()
  if writer is not None:
    writer.flush()
  mngr.close()
  return results


def _check_and_average(pending, mngr, workdir, use_pmap) -> dict:
  """Raises ``TrainingDiverged`` naming the first non-finite step; else the mean metrics."""
  if not pending:
    return {}
  fetched = jax.device_get([m for _, m in pending])
  for (step, _), m in zip(pending, fetched):
    loss = np.asarray(m["loss"])
    if not np.all(np.isfinite(loss)):
      last = mngr.latest_step()
      good = (os.path.join(workdir, "checkpoints", str(last)) if last is not None
              else "none (no checkpoint was saved yet)")
      raise TrainingDiverged(f"loss is {loss.ravel()[0]} at step {step}; training stopped. "
                             f"Last good checkpoint: {good}")
  keys = fetched[-1].keys()
  return {k: float(np.mean([np.mean(m[k]) for m in fetched])) for k in keys}


def _main_metric(results: dict) -> float:
  first = next(iter(results["metrics"].values()))
  return float(first["Total"])


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


def _resolve_groups(config, saved, workdir: str, chief: bool):
  """``model.grouping`` → explicit ``model.groups`` (PBN, Tang & Wu §3.1), before the model
  is built and the config is saved, so every checkpoint carries the groups it was trained
  with; a resumed run reuses the groups of ``saved`` (its latest checkpoint's config).
  Computed groups are also written to ``WORKDIR/groups.json`` (names and MI, the grouping
  CLI's format)."""
  from jaxpose import grouping
  from jaxpose.data import datasets
  config, res = grouping.resolve_config(config, saved)
  if res is not None and chief:
    skel = datasets.skeleton(config.data)
    print(grouping.describe(res, skel), flush=True)
    if saved is None:
      grouping.save_groups(os.path.join(workdir, "groups.json"), res.groups, skel, res.mi,
                           source=res.source, grouping=config.model.grouping.to_dict())
  return config


def _init_from(config, state):
  """Fine-tuning: parameters (and BN statistics) from another run, fresh optimizer."""
  from jaxpose.inference import load
  pred = load(config.init_from)
  return state.replace(params=pred.variables["params"],
                       batch_stats=pred.variables.get("batch_stats", state.batch_stats))
