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

from jaxpose import checkpoint, config_check, families, inference, models
from jaxpose.errors import ConfigError
from jaxpose.training import optim
from jaxpose.training import state as state_lib
from jaxpose.training.step import make_train_step

AXIS = "batch"


class TrainingDiverged(RuntimeError):
  pass


def _num_steps(config, steps_per_epoch: int) -> int:
  t = config.train
  if int(t.get("num_steps", -1)) > 0:
    return int(t.num_steps)
  return int(t.num_epochs) * steps_per_epoch  # config_check: one of the two is positive


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
  import tensorflow as tf

  pidx, pcount = jax.process_index(), jax.process_count()
  n_local, n_global = jax.local_device_count(), jax.device_count()
  use_pmap = n_global > 1
  t = config.train
  config_check.check_training(config, n_global)
  if inference.is_cascade(config) and config.cascade.get("previous"):
    config.cascade.previous = os.path.abspath(config.cascade.previous)  # stored in checkpoints
  mngr = _manager(workdir, int(t.keep_checkpoints))
  latest = _newest_intact(mngr, workdir, int(t.keep_checkpoints), pidx == 0)
  mngr = _manager(workdir, int(t.keep_checkpoints)) if latest != mngr.latest_step() else mngr
  saved = checkpoint.restore_config(mngr, latest) if latest is not None else None
  unresolved = bool(config.model.get("grouping")) and not config.model.get("groups")
  config = _resolve_groups(config, saved, workdir, pidx == 0)
  family = families.get(config)
  if unresolved:
    config_check.check_model(config, family)
  spe = pipeline.steps_per_epoch(config)
  total = _num_steps(config, spe)
  lr = optim.schedule(t, total, spe)
  tx = optim.optimizer(t, lr)
  sync_bn = use_pmap and bool(t.get("sync_batch_norm", True))
  model = models.create(config.model, bn_axis_name=AXIS if sync_bn else None)
  state = create_state(config, model, tx)
  state = restore_or_initialise(config, state, mngr, latest, saved, workdir, pidx == 0)
  if pidx == 0:
    checkpoint.save_config(workdir, config)
  start = int(state.step)
  if pidx == 0:
    print(f"model {config.model.name} ({family.name} family): "
          f"{state_lib.num_params(state.params):,} parameters; {total} steps ({spe} per epoch), "
          f"global batch {int(t.batch_size)} on {n_global} devices", flush=True)

  is_frozen = optim.frozen_predicate(t)
  if pidx == 0 and is_frozen is not None:
    print(optim.describe_frozen(t, state.params, is_frozen), flush=True)
  step_fn = make_train_step(model, tx, family, axis_name=AXIS if use_pmap else None, lr_fn=lr,
                            frozen=is_frozen)
  if use_pmap:
    step_fn = jax.pmap(step_fn, axis_name=AXIS, donate_argnums=(0,))
    state = flax.jax_utils.replicate(state)
  else:
    step_fn = jax.jit(step_fn, donate_argnums=(0,))
  if inference.is_cascade(config):  # a DeepPose refining stage (issue #16)
    from jaxpose.data import cascade as cascade_data
    chain = _previous_stages(config, workdir)
    table = cascade_table(config, chain, workdir, pidx == 0)
    batches = cascade_data.train_iterator(config, int(t.batch_size), table, start, pidx, pcount)
  else:
    chain = None
    batches = pipeline.train_iterator(config, int(t.batch_size), start, pidx, pcount,
                                      targets=family.targets())

  writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard")) if pidx == 0 else None
  validator = Validator(config, chain)
  results, pending = {}, []
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
      scalars["images_per_sec"] = (step - tick_step) * int(t.batch_size) / max(now - tick, 1e-9)
      tick, tick_step = now, step
      bar.set_postfix(loss=f"{scalars['loss']:.3g}", lr=f"{scalars.get('learning_rate', 0):.2g}")
      _write(writer, "train", scalars, step)
    ckpt_metrics = None
    if _due(step, int(t.eval_every), total):
      results = validator(host_state().variables, step)
      ckpt_metrics = validator.checkpoint_metrics(results)
      _write(writer, "val", _flat(results["metrics"]), step)
      bar.write(f"step {step}: validation {ckpt_metrics[checkpoint.METRIC_NAME]} "
                f"{ckpt_metrics[checkpoint.BEST_METRIC]:.2f}")
    if _due(step, int(t.checkpoint_every), total) or ckpt_metrics is not None:
      _check_and_average(pending, mngr, workdir, use_pmap)  # never checkpoint a diverged state
      checkpoint.save(mngr, step, host_state(), config, ckpt_metrics)
    if stop_at is not None and step >= stop_at:
      break
  bar.close()
  if writer is not None:
    writer.flush()
  mngr.close()
  return results


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


class Validator:
  """Validation during training: the inference path (``inference.evaluate``) on
  ``data.eval_split``, one ``Predictor`` kept across evaluations (no recompilation)."""

  def __init__(self, config, previous_stages=None):
    self.config = config
    self.previous = previous_stages  # a cascade's earlier stages: validate the whole cascade
    self.predictor = None

  def __call__(self, variables, step: int) -> dict:
    if self.predictor is None:
      flip = bool(self.config.eval.flip)
      if self.previous:
        self.predictor = inference.CascadePredictor(
            self.previous + [(self.config, variables, step)], flip=flip)
      else:
        self.predictor = inference.Predictor(self.config, variables, step=step, flip=flip)
    self.predictor.update(variables, step)
    return inference.evaluate(self.predictor, self.config.data.eval_split)

  @staticmethod
  def checkpoint_metrics(results: dict) -> dict:
    """The checkpoint's score: the first metric's ``Total`` (e.g. PCKh@0.5 Total), named."""
    title, row = next(iter(results["metrics"].items()))
    return {checkpoint.BEST_METRIC: float(row["Total"]),
            checkpoint.METRIC_NAME: f"{title} Total"}


def _previous_stages(config, workdir: str) -> list:
  """Stages 1 … s−1 of the cascade stage ``config`` trains (``inference.cascade_stages``); their
  runs are only read, never written (each stage keeps its own workdir and parameters)."""
  prev = str(config.cascade.get("previous", "") or "")
  stage = int(config.cascade.stage)
  if not prev:
    raise ConfigError(f"cascade.stage={stage} needs cascade.previous, the workdir of stage "
                      f"{stage - 1}")
  if os.path.abspath(prev) == os.path.abspath(workdir):
    raise ConfigError(f"cascade.previous={prev} is this run's own workdir")
  if not os.path.isdir(os.path.join(prev, "checkpoints")):
    raise checkpoint.CheckpointError(
        f"cascade.previous={prev}: no trained stage {stage - 1} there (no checkpoints/); train "
        f"it first: python train.py --config=<recipe>:{stage - 1} --workdir={prev}")
  pcfg, pvars, pstep, pdir = inference.restore(prev)
  return inference.cascade_stages(pcfg, pvars, pstep, pdir)


def cascade_table(config, chain: list, workdir: str, chief: bool = True) -> dict:
  """The stage-(s−1) predictions of the training split and their error model (Toshev & Szegedy
  §3.2), which ``data.cascade`` draws the stage-s boxes from: ``index``, ``prev`` (N, K, 2)
  image pixels, ``mean`` (K, 2), ``chol`` (K, 2, 2) of the errors ``(y^(s−1) − y) / side`` with
  ``side = σ·diam(y)`` (``codecs.cascade.error_statistics``; the records' ``norm`` where the
  torso is unannotated, as the pipeline). Computed once by running stages 1 … s−1 over the
  un-augmented training crops and kept in ``WORKDIR/cascade_table.npz`` (a resumed run reads it;
  it is recomputed when the previous stage's checkpoint changed)."""
  from jaxpose.codecs import cascade
  from jaxpose.data import datasets
  path = os.path.join(workdir, "cascade_table.npz")
  source = f"{config.cascade.previous}@{chain[-1][2]}"
  if os.path.exists(path):
    with np.load(path) as f:
      if str(f["source"]) == source:
        return {k: f[k] for k in ("index", "prev", "mean", "chol")}
  predictor = inference.CascadePredictor(chain)
  res = inference.predict_split(predictor, config.data.train_split, progress=chief)
  gt, valid = res["joints"][..., :2], res["valid"]
  skeleton = datasets.skeleton(config.data)
  diam = cascade.torso_diameter(gt, skeleton, valid)
  diam = np.where(np.isfinite(diam) & (diam > 0), diam, res["norm"])
  sides = float(config.cascade.sigma) * diam
  mean, cov = cascade.error_statistics(res["pred"], gt, valid, sides)
  table = {"index": res["index"].astype(np.int64), "prev": res["pred"].astype(np.float32),
           "mean": np.asarray(mean, np.float32),
           "chol": np.asarray(cascade.cholesky_2x2(np.asarray(cov, np.float64)), np.float32)}
  if chief:
    np.savez(path, source=np.array(source), **table)
    err = np.linalg.norm(res["pred"] - gt, axis=-1) / sides[:, None]
    err = np.where(valid > 0, err, np.nan)
    print(f"cascade stage {int(config.cascade.stage)}: stage-{len(chain)} predictions of "
          f"{len(gt)} training people, mean error {np.nanmean(err):.3f} box sides "
          f"(σ·diam, σ = {float(config.cascade.sigma):g}); per joint: " + ", ".join(
              f"{n} {e:.3f}" for n, e in zip(skeleton.joints, np.nanmean(err, axis=0))),
          flush=True)
  return table


def _check_and_average(pending, mngr, workdir, use_pmap) -> dict:
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


def _init_from(config, state, chief: bool = True):
  """Fine-tuning, and phase 2 of two-phase training (Chen et al. §3.3: train the classification
  head, then "append two fully connected layers at the branch point to train regression head"):
  the parameters and BatchNorm statistics of ``init_from`` (a workdir's latest checkpoint or a
  step directory) that this network also has, with the same shape, are copied; the others keep
  their fresh initialisation and are listed (as are the checkpoint's arrays this network does
  not use); the optimizer starts fresh. Raises ``CheckpointError`` naming the checkpoint and the
  leaf when a shared leaf differs in shape, when nothing is shared, or when a frozen parameter
  (``train.frozen`` / ``train.trainable``) would stay at its random initialisation."""
  _, variables, step, workdir = inference.restore(config.init_from)
  where = os.path.join(workdir, "checkpoints", str(step))
  log = {"copied": 0, "fresh": [], "unused": []}
  merged = {col: _merge(getattr(state, col), variables.get(col) or {}, col, where, log)
            for col in ("params", "batch_stats")}
  if not log["copied"]:
    raise checkpoint.CheckpointError(
        f"init_from={config.init_from}: checkpoint {where} shares no parameter with this "
        "network (is it a run of another model?)")
  is_frozen = optim.frozen_predicate(config.train)
  if is_frozen is not None:
    stale = [p for p in log["fresh"] if is_frozen(p.split("/")[1])]
    if stale:
      raise checkpoint.CheckpointError(
          f"init_from={config.init_from}: checkpoint {where} has no {stale[0]}, which "
          f"train.frozen / train.trainable freeze: it would keep its random initialisation")
  if chief:
    fresh = _summarise(log["fresh"], merged)
    print(f"init_from {where}: copied {log['copied']} arrays; fresh (not in the checkpoint): "
          f"{', '.join(fresh) or 'none'}", flush=True)
    if log["unused"]:
      print(f"init_from {where}: not used (not in this network): {', '.join(log['unused'])}",
            flush=True)
  return state.replace(**merged)


def _merge(fresh, stored, path: str, where: str, log: dict):
  """``fresh`` (this network's initial tree) with every leaf ``stored`` also has copied in."""
  if isinstance(fresh, dict):
    if not isinstance(stored, dict):
      raise checkpoint.CheckpointError(
          f"checkpoint {where}: {path} is an array, this network has a layer there")
    log["unused"] += [f"{path}/{k}" for k in stored if k not in fresh]
    return {k: _merge(v, stored[k], f"{path}/{k}", where, log) if k in stored else
            _mark_fresh(v, f"{path}/{k}", log) for k, v in fresh.items()}
  if isinstance(stored, dict):
    raise checkpoint.CheckpointError(
        f"checkpoint {where}: {path} is a layer, this network has an array of shape "
        f"{tuple(fresh.shape)} there")
  if tuple(np.shape(stored)) != tuple(fresh.shape):
    raise checkpoint.CheckpointError(
        f"checkpoint {where}: {path} has shape {tuple(np.shape(stored))}, this network has "
        f"{tuple(fresh.shape)} (another model size, input size or joint count?)")
  log["copied"] += 1
  return jax.numpy.asarray(stored, dtype=fresh.dtype)


def _mark_fresh(tree, path: str, log: dict):
  for sub, _ in jax.tree_util.tree_flatten_with_path(tree)[0]:
    log["fresh"].append(path + "".join(f"/{getattr(k, 'key', k)}" for k in sub))
  return tree


def _summarise(paths, trees) -> list:
  """Leaf paths, a top-level layer named once when all its leaves are in ``paths``."""
  out = []
  for p in paths:
    col, top = p.split("/")[:2]
    n = len(jax.tree_util.tree_leaves(trees[col][top]))
    name = f"{col}/{top}" if sum(q.startswith(f"{col}/{top}/") for q in paths) == n else p
    if name not in out:
      out.append(name)
  return out
