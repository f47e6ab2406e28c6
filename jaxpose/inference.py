"""Restore a trained network and predict joints: on batches, on whole splits.

``load(path)`` accepts a workdir (latest or best checkpoint) or one checkpoint step
directory and needs nothing else: the config is stored in the checkpoint. Only the
parameters and BatchNorm statistics are restored (no optimizer is built).

Everything model-specific goes through the model's family (``jaxpose.families``): which
outputs make the prediction, how the flipped crop's outputs merge back, whether a multi-scale
test exists, how outputs decode to joints. Test-time options (Tang & Wu 2019 §4.2, after Yang
et al. 2017): ``flip`` merges each crop's prediction with its mirror image's; ``scales``
(default the config's ``eval.scales``; ``(1.0,)`` = the plain crop) is the image pyramid of
the heat-map families: the eval pipeline cuts one crop per scale with the box side × s, the
network runs on each (flip-merged when asked), the family merges them
(``heatmap.merge_scales`` in the scale-1 frame) and the one decode follows, then the crop →
image ``affine``. The six scales of the paper are ``PYRAMID_SCALES`` (0.8 … 1.3).

A user's own images (``Predictor.from_checkpoint``, ``predict_image``, ``predict_batch``):
decoded by Pillow and cut by ``jaxpose.crops``, the numpy port of the pipeline's crop (the same
float32 pixels), so this path never imports tensorflow; with a record's image and its centre
and scale it reproduces ``predict_split`` bit for bit (tests/test_predict.py; JPEG files decode
slightly differently in Pillow and tensorflow, see ``jaxpose.crops``).

Layering: inference uses models, families, codecs, crops, data and evaluation; training uses
inference (validation); nothing here imports training.
"""
from __future__ import annotations

import os
from typing import Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxpose import checkpoint, crops, families, models
from jaxpose.codecs import geometry
from jaxpose.codecs import heatmap as heatmap_codec
from jaxpose.evaluation import report

PYRAMID_SCALES = heatmap_codec.PYRAMID_SCALES


def parse_scales(text: str) -> tuple:
  """``"0.8,0.9,1.0"`` → ``(0.8, 0.9, 1.0)``; ``ValueError`` with the offending value."""
  items = [t.strip() for t in str(text).split(",")]
  if not any(items):
    raise ValueError(f"--scales={text!r} is empty; give comma-separated factors > 0, "
                     f"e.g. --scales={','.join(map(str, PYRAMID_SCALES))}")
  if not all(items):
    raise ValueError(f"--scales={text!r} has an empty entry")
  return heatmap_codec.check_scales(items)


class Predictor:
  """A model with its variables, run data-parallel on every local device.

  ``scales=None`` takes the config's ``eval.scales``; other scales are written into a copy
  of the config, so that the evaluation pipeline cuts the matching crops.
  """

  def __init__(self, config, variables, step: int = 0, flip: bool = False,
               scales: Optional[tuple] = None):
    own = heatmap_codec.check_scales(config.get("eval", {}).get("scales", (1.0,)))
    self.scales = own if scales is None else heatmap_codec.check_scales(scales)
    if self.scales != own:
      config = config.copy_and_resolve_references()
      config.eval.scales = self.scales
    self.config = config
    self.flip = bool(flip)
    self.family = fam = families.get(config)
    fam.check(config)
    self.model = model = models.create(config.model)
    self.skeleton = fam.skeleton

    def forward(variables, images):
      return model.apply(variables, images, train=False)

    def final(variables, images):
      f = fam.final(forward(variables, images))
      if self.flip:
        f = fam.flip_merge(f, fam.final(forward(variables, images[:, :, ::-1, :])))
      return f

    # Every local device, data-parallel: the batch is split along a one-axis mesh of this
    # process's devices and the variables replicated on it (jit with shardings, the pmap
    # migration guide's replacement for pmap + device_put_replicated). A local mesh keeps
    # this valid under jax.distributed too: each process predicts on its own devices.
    devices = jax.local_devices()
    self.n_dev = len(devices)
    mesh = jax.sharding.Mesh(np.array(devices), ("batch",))
    self._replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    self._split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    shard = dict(in_shardings=(self._replicated, self._split), out_shardings=self._split)
    self._outputs = jax.jit(forward, **shard)
    self._final = jax.jit(final, **shard)
    self._decode = jax.jit(fam.decode)
    self._merge = jax.jit(lambda *finals: fam.scale_merge(finals, self.scales))
    self.update(variables, step)

  def eval_inputs(self) -> tuple:
    """What an evaluation batch must carry besides the crop (the family's ``eval_inputs``)."""
    return tuple(self.family.eval_inputs())

  def update(self, variables, step: int) -> None:
    """New weights for the same network (no recompilation)."""
    self.variables, self.step = variables, int(step)
    self._on_devices = jax.device_put(variables, self._replicated)

  def _run(self, fn, images: np.ndarray) -> dict:
    """``fn(variables, images)`` over the local devices; a batch that does not split over
    them is padded with copies of its last image (dropped from the result)."""
    images = np.asarray(images, np.float32)
    b = images.shape[0]
    pad = -b % self.n_dev
    if pad:
      images = np.concatenate([images, np.repeat(images[-1:], pad, axis=0)])
    out = fn(self._on_devices, jax.device_put(images, self._split))
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[:b], out)

  def outputs(self, images: np.ndarray) -> dict:
    """Every output of the network (not only the final prediction) as numpy, no flip."""
    return self._run(self._outputs, images)

  def final(self, images: np.ndarray) -> dict:
    """The family's final prediction arrays of (B, H, W, 3) crops (flip-merged if asked)."""
    return self._run(self._final, images)

  def predict_crops(self, images: np.ndarray) -> dict:
    """``{"joints": (B, K, 2) crop pixels, "score": (B, K)[, "visible": (B, K)]}``."""
    return _numpy(self._decode(self.final(images)))

  def predict(self, batch: dict) -> dict:
    """Predictions for an evaluation batch, joints in image pixels (through ``affine``).

    Multi-scale (``self.scales != (1.0,)``) reads the batch's ``image_scales``.
    """
    if self.scales == (1.0,):
      final = self.final(batch["image"])
    elif "image_scales" not in batch:
      raise ValueError(f"scales {self.scales} need the batch key image_scales (built by "
                       "pipeline.eval_batches when config.eval.scales has those scales)")
    else:
      image_scales = batch["image_scales"]
      if image_scales.ndim != 5 or image_scales.shape[1] != len(self.scales):
        raise ValueError(f"image_scales of shape {image_scales.shape}: expected (B, "
                         f"{len(self.scales)}, H, W, 3) for scales {self.scales}")
      finals = [self.final(image_scales[:, i]) for i in range(len(self.scales))]
      final = self._merge(*finals)
    out = _numpy(self._decode(final))
    out["joints"] = np.asarray(geometry.to_image(out["joints"], batch["affine"]), np.float32)
    return out

  # ---------------------------------------------------------- a user's own images (#19)
  # The checkpoint directory this predictor was restored from (``from_checkpoint``), or None.
  checkpoint_dir: Optional[str] = None

  @classmethod
  def from_checkpoint(cls, path: str, which: str = "latest", flip: bool = False,
                      scales: Optional[tuple] = None,
                      data_overrides: Optional[dict] = None) -> "Predictor":
    """The predictor of a workdir (its ``which`` = latest or best checkpoint) or of one
    ``WORKDIR/checkpoints/STEP`` directory: ``load`` as a constructor, remembering the
    checkpoint directory in ``self.checkpoint_dir`` (the CLI writes it into every result)."""
    config, variables, step, workdir = restore(path, which, data_overrides=data_overrides)
    out = cls(config, variables, step=step, flip=flip, scales=scales)
    out.checkpoint_dir = os.path.join(workdir, "checkpoints", str(step))
    return out

  def predict_image(self, image, box=None) -> dict:
    """The pose of one person in one image.

    Args:
      image: an (H, W, 3) uint8 RGB array, or a path / encoded bytes (decoded by Pillow).
      box: ``(x1, y1, x2, y2)`` around the person in the image's pixels, detector (edge)
        convention — the whole image is ``(0, 0, W, H)``, the default. The crop is the
        training geometry: a square of side ``larger box side × data.scale_pad`` about the
        box centre (``crops.box_to_center_scale``).

    Returns:
      ``keypoints`` (K, 2) x, y in the image's pixels (pixel centres at integers), ``scores``
      (K,) (the heat-map peak, or the presence probability of coordinate families),
      ``visibility`` (K,) when the family predicts presence, ``joint_names``, and the
      ``box``, ``center`` and ``scale`` used.
    """
    out = self.predict_batch([image], None if box is None else [box], batch_size=1)
    return {k: v if k == "joint_names" else v[0] for k, v in out.items()}

  def predict_batch(self, images, boxes=None, *, center=None, scale=None,
                    batch_size: Optional[int] = None) -> dict:
    """``predict_image`` on many images, ``batch_size`` crops per network call.

    Every call of the network has the same batch shape (the last batch is padded with
    copies of its last crop), so it compiles once per ``batch_size``; default the config's
    ``eval.batch_size``, or fewer when there are fewer images, rounded up to a multiple of
    the local devices (the batch is split over all of them).

    ``boxes``: one box (or None = the whole image) per image. Instead of boxes, ``center``
    (N, 2) and ``scale`` (N,) give the dataset records' own crop geometry (centre in pixel
    coordinates, scale = person size / 200): with a record's values and its decoded image the
    crop is exactly the evaluation pipeline's (``crops`` reproduces its resampling), so the
    predictions are ``predict_split``'s — bit for bit when the batches hold the same records
    (XLA's CPU convolutions can change in the last float bit with the batch's other crops).
    The multi-scale test (``self.scales``) and the flip test apply as in ``predict``.

    Returns a dict of arrays with a leading image axis: ``keypoints`` (N, K, 2), ``scores``
    (N, K), ``visibility`` (N, K) when the family predicts it, ``box`` (N, 4), ``center``
    (N, 2), ``scale`` (N,); and ``joint_names`` (K names).
    """
    images = list(images)
    n = len(images)
    if not n:
      raise ValueError("predict_batch: no images")
    if (center is None) != (scale is None):
      raise ValueError("give center and scale together")
    if center is not None and boxes is not None:
      raise ValueError("give boxes or center/scale, not both")
    if boxes is not None and len(boxes) != n:
      raise ValueError(f"{len(boxes)} boxes for {n} images")
    if center is not None:
      center = np.asarray(center, np.float32).reshape(n, 2)
      scale = np.asarray(scale, np.float32).reshape(n)
    cfg = self.config
    size = int(cfg.data.image_size)
    pad = float(cfg.data.get("scale_pad", 1.25))
    bs = int(batch_size or min(n, int(cfg.eval.batch_size)))
    bs = -(-bs // self.n_dev) * self.n_dev
    multiscale = self.scales != (1.0,)
    rows: dict = {}
    for start in range(0, n, bs):
      batch = {"image": [], "affine": [], "image_scales": []}
      for i in range(start, min(start + bs, n)):
        image = crops.read_image(images[i])
        if center is not None:
          c, s = center[i], float(scale[i])
          box = crops.center_scale_to_box(c, s)
        else:
          box = crops.optional_box(None if boxes is None else boxes[i], *image.shape[:2])
          c, s = crops.box_to_center_scale(box)
        crop, affine = crops.crop(image, c, s, size, pad)
        batch["image"].append(crops.normalise(crop))
        batch["affine"].append(affine)
        if multiscale:
          batch["image_scales"].append(crops.normalise(
              crops.scale_crops(image, c, s, size, self.scales, pad)))
        for k, v in (("box", box), ("center", c), ("scale", s)):
          rows.setdefault(k, []).append(np.asarray(v))
      m = len(batch["image"])
      batch = {k: np.stack(v + v[-1:] * (bs - m)) for k, v in batch.items() if v}
      pred = self.predict(batch)
      for k, name in (("joints", "keypoints"), ("score", "scores"), ("visible", "visibility")):
        if k in pred:
          rows.setdefault(name, []).append(np.asarray(pred[k][:m]))
    out = {name: np.concatenate(v) for name, v in rows.items()
           if name in ("keypoints", "scores", "visibility")}
    out["box"] = np.stack(rows["box"]).astype(np.float64)
    out["center"] = np.stack(rows["center"]).astype(np.float32)
    out["scale"] = np.asarray(rows["scale"], np.float32)
    out["joint_names"] = tuple(self.skeleton.joints)
    return out


class CascadePredictor:
  """DeepPose's cascade (Toshev & Szegedy 2014 §3; issue #16): stage 1, an ordinary
  coordinate regressor on the person crop (a ``Predictor``), then stages s = 2 … S, each a
  network that refines every joint from a sub-image of the full-resolution image.

  Stage s: the boxes ``(y_i^(s−1), σ·diam(y^(s−1)))`` (``codecs.cascade.stage_boxes``), cut
  inside jit from the batch's ``full_image`` canvas (``pipeline.full_image``: the original pixels
  around the person, ``full_affine`` canvas → image) with ``codecs.cascade.crop_patches``,
  normalised as the training patches (``data.cascade``; black outside the image), the stage
  network on all B·K patches at once, output i of patch i mapped back (``codecs.cascade.refine``).
  ``stages`` = [(config, variables, step)] from stage 1 on; ``upto`` runs only the first ``upto``
  stages (0 = all: the per-stage results of DeepPose's tables). ``flip`` is stage 1's flip test.

  The interface is the ``Predictor``'s where evaluation uses it: ``config`` (stage 1's data and
  crop with the last stage's ``cascade`` and ``eval``), ``family``, ``skeleton``, ``step``,
  ``flip``, ``scales``, ``eval_inputs()``, ``predict(batch)``, ``update(variables, step)`` (the
  last stage's weights, for validation while it trains).
  """

  def __init__(self, stages, flip: bool = False, upto: int = 0):
    from jaxpose.codecs import cascade
    from jaxpose.data import pipeline
    if not stages:
      raise ValueError("CascadePredictor needs at least stage 1")
    first_cfg, first_vars, first_step = stages[0]
    self.first = Predictor(first_cfg, first_vars, step=first_step, flip=flip)
    last_cfg = stages[-1][0]
    config = first_cfg.copy_and_resolve_references()
    config.cascade = last_cfg.cascade.copy_and_resolve_references()
    config.eval = last_cfg.eval.copy_and_resolve_references()
    config.name = last_cfg.get("name", "")
    self.config = config
    self.family, self.skeleton = self.first.family, self.first.skeleton
    self.flip, self.scales = self.first.flip, self.first.scales
    n = len(stages) if not upto else int(upto)
    if not 1 <= n <= len(stages):
      raise ValueError(f"upto={upto}: the cascade has {len(stages)} stages")
    self.num_stages = n
    mean = jnp.asarray(pipeline.MEAN)
    std = jnp.asarray(pipeline.STD)
    skeleton = self.skeleton
    self._stages = []
    for cfg, variables, step in stages[1:n]:
      model = models.create(cfg.model)
      size, sigma = int(cfg.data.image_size), float(cfg.cascade.sigma)

      def refine(variables, canvas, affine, prev, model=model, size=size, sigma=sigma):
        f = affine[:, 0, 0][:, None, None]  # canvas pixel → image pixel: x = f·u + origin
        origin = affine[:, None, :, 2]
        # patches are cut in [0, 1] (black outside) and normalised as the training patches
        net = lambda x: model.apply(variables, (x - mean) / std, train=False)["coords"][-1]
        new, _, _ = cascade.refine_stage(net, canvas, (prev - origin) / f, skeleton, sigma, size)
        return new * f + origin

      self._stages.append([jax.jit(refine), variables, int(step)])
    self.step = int(stages[n - 1][2])

  def eval_inputs(self) -> tuple:
    return self.first.eval_inputs() + (("full_image",) if self._stages else ())

  def update(self, variables, step: int) -> None:
    """New weights for the last stage (validation of the stage being trained)."""
    if self._stages:
      self._stages[-1][1:] = [variables, int(step)]
    else:
      self.first.update(variables, step)
    self.step = int(step)

  def predict(self, batch: dict) -> dict:
    out = self.first.predict(batch)
    if self._stages and "full_image" not in batch:
      raise ValueError("a refining stage needs the batch key full_image (pipeline.eval_batches "
                       "builds it when eval_inputs() asks for it)")
    joints = out["joints"]
    for fn, variables, _ in self._stages:
      joints = np.asarray(fn(variables, batch["full_image"], batch["full_affine"], joints))
    out["joints"] = joints.astype(np.float32)
    return out


def cascade_stages(config, variables, step: int, workdir: str, which: str = "latest") -> list:
  """[(config, variables, step)] of stage 1 … this run: ``cascade.previous`` followed back to
  stage 1. Raises ``CheckpointError`` naming the run whose previous stage is missing or does not
  fit (another skeleton, a stage number out of order)."""
  chain = [(config, variables, step)]
  while int(chain[0][0].cascade.get("stage", 1)) > 1:
    cfg = chain[0][0]
    stage, prev = int(cfg.cascade.stage), str(cfg.cascade.get("previous", "") or "")
    where = workdir if len(chain) == 1 else prev
    if not prev:
      raise checkpoint.CheckpointError(
          f"{where}: cascade.stage={stage} needs cascade.previous, the workdir of stage "
          f"{stage - 1}")
    if not os.path.isdir(os.path.join(prev, "checkpoints")):
      raise checkpoint.CheckpointError(
          f"cascade.previous={prev}: no trained stage {stage - 1} there (no checkpoints/); train "
          f"it first: python train.py --config=<recipe>:{stage - 1} --workdir={prev}")
    pcfg, pvars, pstep, _ = restore(prev, which)
    pstage = int(pcfg.get("cascade", {}).get("stage", 1))
    if pstage != stage - 1:
      raise checkpoint.CheckpointError(
          f"cascade.previous={prev} is stage {pstage}, expected stage {stage - 1}")
    if int(pcfg.model.num_joints) != int(cfg.model.num_joints):
      raise checkpoint.CheckpointError(
          f"cascade.previous={prev} predicts {pcfg.model.num_joints} joints, stage {stage} "
          f"{cfg.model.num_joints}")
    chain.insert(0, (pcfg, pvars, pstep))
  return chain


def is_cascade(config) -> bool:
  """Whether ``config`` is a refining stage of a cascade (``cascade.stage`` ≥ 2)."""
  cas = config.get("cascade")
  return cas is not None and int(cas.get("stage", 1)) > 1


def _numpy(tree) -> dict:
  return {k: np.asarray(v) for k, v in tree.items()}


GT_KEYS = ("joints", "valid", "visible", "norm", "scale", "index", "part_windows")


def predict_split(predictor: Predictor, split: str, batch_size: Optional[int] = None,
                  progress: bool = False) -> dict:
  """Runs over a whole split; numpy arrays ordered by record index: the predictions
  (``pred`` image pixels, ``score``, ``pred_visible`` when the family predicts presence,
  ``pred_parts`` when it detects parts) and the ground truth of ``GT_KEYS`` that the batches
  carry."""
  from jaxpose.data import pipeline  # tf stays out of model-only imports
  cfg = predictor.config
  bs = int(batch_size or cfg.eval.batch_size)
  out: dict = {}
  it = pipeline.eval_batches(cfg, split, bs, inputs=predictor.eval_inputs())
  if progress:
    from tqdm import tqdm
    it = tqdm(it, desc=f"eval {split}", unit="batch", leave=False)
  for batch in it:
    pred = predictor.predict(batch)
    m = batch["mask"]
    row = {"pred": pred["joints"], "score": pred["score"]}
    if "visible" in pred:
      row["pred_visible"] = pred["visible"]
    if "parts" in pred:
      row["pred_parts"] = pred["parts"]
    row.update({k: batch[k] for k in GT_KEYS if k in batch})
    for k, v in row.items():
      out.setdefault(k, []).append(v[m])
  res = {k: np.concatenate(v) for k, v in out.items()}
  order = np.argsort(res["index"], kind="stable")
  return {k: v[order] for k, v in res.items()}


def evaluate(predictor: Predictor, split: str, metrics=None, progress: bool = False,
             batch_size: Optional[int] = None) -> dict:
  """Predicts a split and scores it (``report.score``); the predictions are kept in the
  result under ``_predictions``."""
  res = predict_split(predictor, split, batch_size=batch_size, progress=progress)
  cfg = predictor.config
  out = report.score(res, predictor.skeleton, list(metrics or cfg.eval.metrics),
                     scale_pad=float(cfg.data.get("scale_pad", 1.25)))
  out.update(step=int(predictor.step), config=str(cfg.get("name", "")), dataset=cfg.data.name,
             split=split, flip=predictor.flip, scales=[float(s) for s in predictor.scales])
  out["_predictions"] = res
  return out


def resolve_checkpoint(path: str, which: str = "latest") -> tuple[str, int]:
  """(workdir, step) for a workdir or a ``WORKDIR/checkpoints/STEP`` directory."""
  path = os.path.abspath(path)
  base = os.path.basename(path.rstrip("/"))
  if base.isdigit() and os.path.basename(os.path.dirname(path)) == "checkpoints":
    return os.path.dirname(os.path.dirname(path)), int(base)
  if not os.path.isdir(os.path.join(path, "checkpoints")):
    raise checkpoint.CheckpointError(f"{path}: no checkpoints/ folder (is this a jaxpose workdir?)")
  if which not in ("latest", "best"):
    raise checkpoint.CheckpointError(f"which={which!r}: expected latest or best")
  mngr = checkpoint.manager(path, read_only=True)
  step = mngr.best_step() if which == "best" else mngr.latest_step()
  if step is None:
    raise checkpoint.CheckpointError(f"{path}/checkpoints holds no finished checkpoint")
  return path, int(step)


def default_which(path: str) -> str:
  """The checkpoint a tool reads by default: a workdir's config ``eval.checkpoint`` (latest
  or best, as evaluate.py), ``latest`` for a ``WORKDIR/checkpoints/STEP`` directory (which
  names its step itself)."""
  workdir, latest = resolve_checkpoint(path, "latest")
  if os.path.abspath(path) != workdir:
    return "latest"
  saved = checkpoint.restore_config(checkpoint.manager(workdir, read_only=True), latest)
  return str(saved.get("eval", {}).get("checkpoint", "latest"))

def abstract_variables(config) -> dict:
  """The shapes of the model's variables for ``config`` (nothing allocated)."""
  model = models.create(config.model)
  size = int(config.data.image_size)
  key = jax.random.PRNGKey(0)
  return jax.eval_shape(lambda r: model.init({"params": r, "dropout": r},
                                             jnp.zeros((1, size, size, 3), jnp.float32),
                                             train=False), key)


def restore(path: str, which: str = "latest",
            overrides: Optional[ml_collections.ConfigDict] = None,
            data_overrides: Optional[dict] = None) -> tuple:
  """(config, variables, step, workdir) of the checkpoint at ``path`` — parameters and
  BatchNorm statistics only. See ``load``."""
  workdir, step = resolve_checkpoint(path, which)
  mngr = checkpoint.manager(workdir, read_only=True)
  if step not in mngr.all_steps():
    raise checkpoint.CheckpointError(f"{workdir}/checkpoints has no step {step}; it has {mngr.all_steps()}")
  config = checkpoint.restore_config(mngr, step)
  if overrides is not None:
    checkpoint.check_compatible(config, overrides, f"{workdir}/checkpoints/{step}")
    config = overrides
  if data_overrides:
    from jaxpose.data import datasets  # tf-free registry lookup
    config = config.copy_and_resolve_references()
    config.data.update(data_overrides)
    k = datasets.skeleton(config.data).num_joints
    if k != int(config.model.num_joints):
      raise checkpoint.CheckpointError(
          f"{workdir}/checkpoints/{step} predicts {config.model.num_joints} joints; dataset "
          f"{config.data.name} has {k}")
  variables = checkpoint.restore_variables(mngr, step, abstract_variables(config))
  return config, variables, step, workdir


def load(path: str, which: str = "latest", flip: bool = False,
         overrides: Optional[ml_collections.ConfigDict] = None,
         data_overrides: Optional[dict] = None, scales: Optional[tuple] = None,
         stage: Optional[int] = None) -> Predictor:
  """A Predictor for the checkpoint at ``path`` (workdir or step directory).

  ``stage`` (None = the config's ``eval.stage``; 0 = the last) predicts from one stage: a CPM's
  stage t, or the first t stages of a DeepPose cascade (a ``CascadePredictor``, returned for a
  refining stage's run with every stage from stage 1 on).

  ``scales`` (None = the checkpoint config's ``eval.scales``) sets the multi-scale test.
  ``data_overrides`` (e.g. ``{"name": "lsp", "root": ""}``) evaluates the network on another
  dataset with the same joint set; a joint-count mismatch is an error.
  """
  config, variables, step, workdir = restore(path, which, overrides, data_overrides)
  if stage is not None:
    config = config.copy_and_resolve_references()
    config.eval.stage = int(stage)
  if is_cascade(config):  # DeepPose: every stage from stage 1 on
    stages = cascade_stages(config, variables, step, workdir)
    if data_overrides:
      stages = [(_with_data(c, data_overrides), v, s) for c, v, s in stages]
    upto = int(config.eval.get("stage", 0) or 0)
    return CascadePredictor(stages, flip=flip, upto=upto)
  return Predictor(config, variables, step=step, flip=flip, scales=scales)


def _with_data(config, data_overrides: dict):
  config = config.copy_and_resolve_references()
  config.data.update(data_overrides)
  return config
