"""Recipes (``get_config()`` per file) and the blocks several of them share.

The recipes ship inside the package (``jaxpose/configs/*.py``; the checkout's ``configs/`` is a
link to this folder), so an installed jaxpose trains any of them by name
(``jaxpose-train --config=lsp_cpu``), and a user's own config file anywhere builds on them::

  from jaxpose import configs
  from jaxpose.configs import default

  def get_config():
    c = default.get_config()
    configs.lsp_protocol(c)
    configs.cpu_budget(c, features=64, steps=2000)
    return c
"""
import os
import re

from jaxpose.errors import ConfigError

_HERE = os.path.dirname(os.path.abspath(__file__))


def path(name: str) -> str:
  """The file of the packaged recipe ``name`` (``"lsp_cpu"`` → ``…/jaxpose/configs/lsp_cpu.py``)."""
  return os.path.join(_HERE, name + ".py")


def names() -> tuple[str, ...]:
  """The packaged recipes, sorted."""
  return tuple(sorted(f[:-3] for f in os.listdir(_HERE)
                      if f.endswith(".py") and not f.startswith("_")))


def resolve(value: str) -> str:
  """A ``--config`` value (``FILE[:ARG]`` or ``NAME[:ARG]``) with a packaged recipe's name replaced
  by its file; a value that is neither an existing file nor a recipe is a ``ConfigError``."""
  file, sep, arg = value.partition(":")
  if os.path.isfile(file):
    return value
  if re.fullmatch(r"[A-Za-z_]\w*", file) and os.path.isfile(path(file)):
    return path(file) + sep + arg
  raise ConfigError(f"--config={value}: no such file, and no packaged recipe of that name "
                    f"(recipes: {', '.join(names())})")


def resolve_argv(argv: list[str]) -> list[str]:
  """``argv`` with the value of ``--config=…`` / ``--config …`` passed through ``resolve``."""
  out = list(argv)
  for i, a in enumerate(out):
    if a.startswith("--config="):
      out[i] = "--config=" + resolve(a[len("--config="):])
    elif a == "--config" and i + 1 < len(out):
      out[i + 1] = resolve(out[i + 1])
  return out


def parse_flags(argv: list[str]) -> list[str]:
  """absl's ``flags_parser`` for ``train.py``: a bad flag or ``--config.KEY=VALUE`` is one line
  ``error: …`` and exit status 2 instead of a traceback — an unknown key named in full, with
  the keys its section has."""
  from absl import flags
  try:
    return flags.FLAGS(argv)
  except (flags.Error, *OVERRIDE_ERRORS) as e:
    exit_on_flag_error(argv, e)


# What ml_collections raises for an override it cannot apply (an unknown key: AttributeError or
# KeyError; a recipe's own check of its argument: ValueError).
OVERRIDE_ERRORS = (AttributeError, KeyError, TypeError, ValueError)


def exit_on_flag_error(argv: list[str], e: Exception) -> None:
  """Prints ``error: …`` for a flag ``argv`` cannot set and exits with status 2. Also used
  around ``DEFINE_config_file``, which applies ``--config.KEY`` overrides of the default
  config while the flag is defined."""
  import sys
  from absl import flags
  message = str(e) if isinstance(e, flags.Error) else (
      _unknown_key(argv) or f"--config: {type(e).__name__}: {e}")
  lines = [line.strip() for line in message.splitlines() if line.strip()]
  if len(lines) > 1:  # ml_collections puts the recipe's whole traceback into its message
    message = f"{lines[0]} {lines[-1]}"
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(2)


def _unknown_key(argv: list[str]) -> str:
  """The first ``--config.KEY`` of ``argv`` that the config file's ``get_config()`` lacks, as
  a message; "" when every key exists (or the config cannot be loaded to tell)."""
  import importlib.util
  value = next((a[len("--config="):] for a in argv if a.startswith("--config=")), path("default"))
  file, _, arg = resolve(value).partition(":")
  try:
    spec = importlib.util.spec_from_file_location("_jaxpose_config_file", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config(arg) if arg else module.get_config()
  except Exception:  # the file itself is broken: the caller reports the original error
    return ""
  for a in argv:
    if not a.startswith("--config."):
      continue
    key = a[len("--config."):].partition("=")[0]
    node, done = config, []
    for part in key.split("."):
      keys = list(node.keys()) if hasattr(node, "keys") else []
      if part not in keys:
        where = ".".join(done) or "the config"
        return (f"--config.{key}: unknown config key {key!r} ({where} has: "
                f"{', '.join(sorted(map(str, keys))) or 'no keys'})")
      node, done = node[part], done + [part]
  return ""


def lsp_protocol(c, metrics=("pck@0.2", "hard10_pck@0.2", "pcp@0.5")):
  """The usual LSP protocol: train on LSP train + LSP extended (11,000 people), test on the
  1,000 LSP test images, 14 joints. LSP has no validation split, so evaluation reports the
  latest checkpoint: picking the best one on the test split would flatter."""
  c.model.num_joints = 14
  c.data.name = "lsp_lspet"
  c.data.train_split = "train"
  c.data.eval_split = "test"
  # LSPET im08075.jpg labels its r_knee 145 px right of its 241-px image, which the readers
  # refuse (jaxpose/data/sources/common.py, OUTSIDE_MARGIN): skipped, and the skip logged
  c.data.on_error = "skip"
  c.eval.checkpoint = "latest"
  c.eval.metrics = tuple(metrics)
  return c


def cpu_budget(c, features: int, steps: int):
  """The reduced size of the CPU recipes (configs/lsp_cpu.py, *_lsp_cpu.py): 2 stacks of
  ``features`` channels, 128×128 crops, 32×32 heat maps, batch 8, RMSProp 1e-3 with 100 warm-up
  steps and ÷10 for the last fifth — the default recipe's choices, which leave the early
  empty-heat-map plateau within a few hundred steps."""
  c.model.num_stacks = 2
  c.model.features = features
  c.data.image_size = 128
  c.data.heatmap_size = 32
  c.train.optimizer = "rmsprop"
  c.train.learning_rate = 1e-3
  c.train.batch_size = 8
  c.train.num_epochs = -1
  c.train.num_steps = steps
  c.train.schedule.update(name="piecewise", warmup_steps=100, boundaries=(0.8,),
                          boundary_unit="fraction")
  c.train.eval_every = 2000
  c.train.checkpoint_every = 2000
  c.train.log_every = 100
  return c


def epoch_schedule(c, epochs: int, boundaries):
  """The paper-scale step decay: ``epochs`` epochs (``num_steps`` unset, so epochs decide the
  length), no warm-up, learning rate × ``train.schedule.decay`` (÷10) at each epoch in
  ``boundaries`` — the recipes of configs/lsp_hourglass.py (200 epochs, ÷10 at 150 and 190),
  msn_mpii.py (Ke et al. 2018 §3: 100 epochs "with decay") and pbn_mpii.py (Tang & Wu 2019
  §4.1: 250 epochs, ÷10 at 170 and 220)."""
  c.train.num_steps = -1
  c.train.num_epochs = epochs
  c.train.schedule.update(name="piecewise", warmup_steps=0, boundaries=tuple(boundaries),
                          boundary_unit="epoch")
  return c


# Chen et al. Table 2 reports the classification heads' accuracy; §3.5 scores locations at 1/12
# of the (square) input's height; PCK@0.2 is the usual LSP figure beside it.
REGRESSOR_METRICS = ("visibility", "pck_height@1/12", "pck@0.2")
PHASES = ("1", "2")


def regressor_lsp(name: str, model: str, image_size: int, phase: str = "1", **fields):
  """A coordinate regressor of Chen et al. (UCSD course report) on LSP, one of its two training
  phases (§3.3; ``two_phase``). ``name`` is the recipe (``regressor_alexnet_lsp``), ``model`` the
  registry name, ``fields`` the model's constructor fields.

  Paper scale (the report gives no optimiser settings beyond "stochastic gradient descent" and
  eq. 4's weight decay): SGD with momentum 0.9, learning rate 0.01, weight decay 5e-4 on the
  kernels and batch 128 — AlexNet's and VGG's own recipe (Krizhevsky et al. 2012 §5; Simonyan &
  Zisserman 2014 §3.1) — for 100 epochs, ÷10 at epochs 60 and 85, in each phase. Data: the
  library's LSP protocol (``lsp_protocol``: LSP train + LSPET for training, LSP test for
  evaluation, latest checkpoint). §3.1 trains on LSPET alone: ``--config.data.name=lspet
  --config.data.eval_split=train`` gives that (validation then watches the training images, the
  report's Fig. 9), and ``evaluate.py --dataset=lsp --split=test`` the test figures."""
  from jaxpose.configs import default
  import ml_collections
  c = default.get_config()
  c.model = ml_collections.ConfigDict(
      {"name": model, "num_joints": 14, "dtype": "float32", "layer_forms": "auto",
       "regression": True,
       # the originals' layers, spelled out so that the command line can change them
       "batch_norm": False, "dropout_rate": 0.5, **fields})
  lsp_protocol(c, REGRESSOR_METRICS)
  c.data.image_size = image_size
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = 0.01
  c.train.weight_decay = 5e-4
  c.train.batch_size = 128
  epoch_schedule(c, 100, (60, 85))
  c.train.eval_every = 0  # only at the end: the test split must not steer the run
  c.train.checkpoint_every = 2000
  c.train.log_every = 100
  c.eval.flip = True
  return two_phase(c, name, phase)


def two_phase(c, name: str, phase: str):
  """Chen et al. §3.3, "first train the classification head and then append two fully connected
  layers at the branch point to train regression head", as two runs of one recipe:

  - phase ``"1"``: ``model.regression=False`` (conv layers + classification head, eq. 5 only),
    nothing frozen; ``name`` ``<recipe>_p1``, so its default workdir is ``runs/<recipe>_p1``;
  - phase ``"2"``: ``model.regression=True`` (the ``reg_*`` branch appended at ``fc1``),
    ``train.trainable=("reg_",)`` (everything else frozen: bit-identical, BatchNorm statistics
    kept), ``init_from=runs/<recipe>_p1`` (override it when phase 1 ran elsewhere); the
    classification loss stays in the total but, frozen, only reports.

  Chosen on the command line as the config file's argument (ml_collections passes it to
  ``get_config``); every key stays overridable. For any of the recipes
  ``configs/regressor_{baseline1,baseline2,alexnet,vgg19}_lsp{,_cpu}.py``, R = its name:

    python train.py --config=configs/R.py:1 --workdir=runs/R_p1
    python train.py --config=configs/R.py:2 --workdir=runs/R_p2 --config.init_from=runs/R_p1

  Each run ends with visibility accuracy, PCK-height@1/12 and PCK@0.2 on the LSP test images
  (``evaluate.py --workdir=runs/R_p2`` again; phase 1 has no coordinates, so its PCKs are 0);
  ``python -m jaxpose.evaluation.compare runs/*_p2`` puts them side by side (Table 2)."""
  phase = str(phase)
  if phase not in PHASES:
    raise ValueError(f"{name}: phase {phase!r}; expected 1 or 2 (--config=configs/{name}.py:2)")
  c.name = f"{name}_p{phase}"
  c.model.regression = phase == "2"
  c.train.frozen = ()
  c.train.trainable = ("reg_",) if phase == "2" else ()
  c.init_from = f"runs/{name}_p1" if phase == "2" else ""
  return c


def regressor_cpu_budget(c, steps: int = 2000, batch_size: int = 16, *,
                         learning_rate: float = 3e-4, batch_norm: bool = True):
  """The reduced comparison of the four regressors on a 2-core CPU
  (configs/regressor_*_lsp_cpu.py, and DeepPose's stages): the same 112-pixel crops (set by the
  recipe), ``steps`` of batch ``batch_size`` in each phase (32,000 crops, about three epochs of
  LSP + LSPET) with Adam ``learning_rate`` and no weight decay, 100 warm-up steps and ÷10 for
  the last fifth; one checkpoint and the LSP-test evaluation at the end. Only the networks differ
  (AlexNet and VGG-19 thinned to fit).

  ``batch_norm`` (the regressors' ``model.batch_norm``, BatchNorm after every convolution, and
  ``model.dropout_rate`` = 0): without it these networks learn nothing from scratch at this
  budget. Measured on LSP (Baseline-1, 2,000 steps of batch 16, both phases, 2026-12-02): with
  the originals' layers (no BatchNorm, dropout 0.5) and Adam 1e-3 every classifier and every
  regressor collapsed to a constant output — the presence prior and the mean pose, PCK@0.2 8.1,
  the same for all four networks — and in-process checks on 3,072 crops showed why: after 600
  steps the per-image spread of the predicted coordinates was 0.0000 (dead ReLUs), at Adam 1e-4
  the network only memorised its training crops (held-out MSE 0.0336 = the mean pose's). With
  BatchNorm, no dropout and Adam 3e-4 the same two-phase Baseline-1 run reached PCK@0.2 17.2 and
  PCK-height@1/12 35.6 (one phase, all layers trained: 17.7 / 37.1). The paper-scale recipes keep the
  originals' layers (``--config.model.batch_norm=True`` gives them BatchNorm too, as
  ``torchvision``'s ``vgg*_bn``).

  Train-step times measured here (batch 16, machine otherwise idle, without BatchNorm), phase 1 /
  phase 2 (which backpropagates through the regression branch only): Baseline-1 0.12 / 0.03 s,
  Baseline-2 0.10 / 0.04 s, AlexNet 0.59 / 0.17 s, VGG-19 0.39 / 0.08 s — AlexNet's two phases
  about 25 minutes together, the others under 15, plus input pipeline and evaluation.
  Adam rather than the paper-scale SGD: in a 250-step check on synthetic data (Baseline-1, 112
  px, batch 16, from the same phase-1 weights) phase 2 reached a coordinate loss of 0.014 with
  Adam 1e-3 against 0.018 with SGD 0.01 + momentum; phase 1 went alike with both."""
  if batch_norm:
    c.model.batch_norm = True
    c.model.dropout_rate = 0.0
  c.train.optimizer = "adam"
  c.train.learning_rate = learning_rate
  c.train.weight_decay = 0.0
  c.train.batch_size = batch_size
  c.train.num_epochs = -1
  c.train.num_steps = steps
  c.train.schedule.update(name="piecewise", warmup_steps=100, boundaries=(0.8,),
                          boundary_unit="fraction")
  c.train.checkpoint_every = steps
  c.train.log_every = 100
  return c


# Li et al. 2014 report PCP on the arms (Tables 1–2), the FLIC curves of eq. (7) at r = 20 as a
# headline point, and Table 3's regression and detection errors.
HMLPE_METRICS = ("pcp@0.5", "reg_error", "detection")
BUDGETS = ("paper", "cpu")


def hmlpe(name: str, dataset: str, budget: str = "paper", *, epochs: int = 100,
          learning_rate: float = 0.01, steps: int = 4000, batch_size: int = 32):
  """An HMLPE recipe (Li, Liu & Chan 2014; jaxpose/models/hmlpe.py at its paper sizes: 112×112
  crops, 8 upper-body joints, 7 parts × 64 windows of 30×30, β = 0.3) on ``dataset``.

  Crops (§4.1): the record's box — that of the annotated parts, ``common.box_center_scale``'s
  1.15 × the joint box — as it is (``scale_pad`` 1), resized to 112 px; the paper's 16 random
  112-px crops of the 128-px box and their mirror images are ``augment.translate`` = 8/128 (the
  window moves by up to ±8/128 of its side on each axis) and ``flip``; no scale, rotation or
  colour augmentation. Their 0.875 zoom is not applied: the paper's box is tight around the
  parts, so a 112-of-128 crop cuts the outermost joints off, which this box's margin keeps in
  view. Test boxes (§4.3–4.4) are the datasets' (jaxpose/data/sources/upper_body.py: derived
  from the annotated torso with the paper's factors, no person detector here).

  Loss: eq. (4) with λ_r = ``loss.weights.coords`` = 1 and λ_d = ``loss.weights.parts`` = 1
  (§4.5 finds the ratio 1 among the best; the sweep of Table 3 overrides both).

  ``budget``:
  - ``"paper"``: SGD with momentum 0.9 and weight decay 5e-4 on the kernels, batch 128,
    ``epochs`` epochs (Table 3 reports epoch 100), learning rate ÷10 for the last fifth. The
    paper gives no optimiser settings ("we refer reader to [14]", Krizhevsky et al. 2012,
    whose recipe this is).
  - ``"cpu"``: ``steps`` of batch ``batch_size`` with Adam 1e-3 (λ ratios keep their meaning:
    Adam's steps do not depend on the loss scale), 100 warm-up steps and ÷10 for the last
    fifth, sized for ~30 minutes on a 2-core CPU.

  Evaluation: PCP@0.5 (Li et al. eq. 6; Tables 1–2 print the arms), the regression error and
  the detection error / accuracy of Table 3, on the latest checkpoint, with the flip test
  off (the paper has none)."""
  from jaxpose.configs import default
  import ml_collections
  if budget not in BUDGETS:
    raise ValueError(f"{name}: budget {budget!r}; expected one of {BUDGETS} "
                     f"(--config=configs/{name}.py:cpu)")
  c = default.get_config()
  c.name = name if budget == "paper" else f"{name}_cpu"
  c.model = ml_collections.ConfigDict({"name": "hmlpe", "num_joints": 8, "num_parts": 7,
                                       "num_windows": 64, "dtype": "float32",
                                       "layer_forms": "auto"})
  c.data.name = dataset
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.data.image_size = 112
  c.data.scale_pad = 1.0
  c.data.augment = ml_collections.ConfigDict({
      "scale": 0.0, "rotation": 0.0, "rotation_prob": 0.0, "shear": 0.0, "flip": True,
      "color": 0.0, "translate": 8 / 128})
  c.loss.weights.coords = 1.0
  c.loss.weights.parts = 1.0
  c.eval.metrics = HMLPE_METRICS
  c.eval.checkpoint = "latest"
  c.eval.flip = False
  c.train.log_every = 100
  if budget == "paper":
    c.train.optimizer = "sgd"
    c.train.momentum = 0.9
    c.train.learning_rate = learning_rate
    c.train.weight_decay = 5e-4
    c.train.batch_size = 128
    epoch_schedule(c, epochs, (int(0.8 * epochs),))
    c.train.eval_every = 0
    c.train.checkpoint_every = 2000
  else:
    # Adam 1e-3, warm-up 100, ÷10 for the last fifth; HMLPE's own layers (tanh outputs, dropout
    # 0.5 on the first FC layer, §3.5), no BatchNorm. Unlike the regressors they do not collapse
    # there: the regression network, 600 steps of batch 16 on 3,072 LSP crops, held-out MSE
    # 0.0325 (mean pose 0.0336), per-image spread 0.046 (3e-4: 0.0323, 0.062).
    regressor_cpu_budget(c, steps, batch_size, learning_rate=1e-3, batch_norm=False)
    c.train.eval_every = 0
  return c


STAGES = ("1", "2", "3", "4", "5")


def deeppose(name: str, stage: str, image_size: int, patch_size: int, **model_fields):
  """A stage of DeepPose (Toshev & Szegedy 2014; the course report §2.3) on LSP: the stage as the
  config file's argument (``--config=configs/deeppose_lsp.py:2``), each stage its own run.

  - Stage 1: the AlexNet regressor (``models.regressors.AlexNet``) without the visibility head
    (``visibility=False``) and the regression branch of DeepPose's network — fc6, fc7, 2K outputs
    (``regression_layers=2``) — on the person crop (``image_size``), all K joints, L2 over the
    annotated joints (the coordinate family's ``coords`` term with ``target_weight``).
  - Stage s ≥ 2: the same architecture on ``patch_size`` sub-images of side σ·diam around each
    joint (``cascade.sigma``, σ = 1: the report and this summary of DeepPose give no value; a
    torso-diagonal-sized box holds a limb's neighbourhood), cut from the full-resolution image
    (``data.cascade``, ``pipeline.full_image``), trained on the stage-(s−1) predictions of the
    training set and, for half of the boxes (``cascade.simulated``), on simulated ones drawn from
    their error distribution (§3.2). Own parameters (fresh), own workdir:
    ``cascade.previous`` = ``runs/<name>_s<s−1>`` by default.

  Training (the report gives none; DeepPose used DistBelief's AdaGrad): the library's regressor
  recipe (``regressor_lsp``: SGD, momentum 0.9, lr 0.01, weight decay 5e-4, batch 128) for 100
  epochs per stage on LSP + LSPET; evaluation PCP@0.5 per limb (DeepPose's table) and PCK@0.2 on
  the LSP test images, the whole cascade (``eval.stage`` = t for the first t stages)."""
  import ml_collections
  stage = str(stage)
  if stage not in STAGES:
    raise ValueError(f"{name}: stage {stage!r}; expected one of {STAGES} "
                     f"(--config=configs/{name}.py:2)")
  c = regressor_lsp(name, "alexnet", image_size, "2", visibility=False, regression_layers=2,
                    **model_fields)
  c.name = f"{name}_s{stage}"
  c.model.regression = True
  c.train.trainable = ()
  c.init_from = ""
  c.eval.metrics = ("pcp@0.5", "pck@0.2")
  c.eval.flip = False
  c.eval.stage = 0
  c.eval.batch_size = 32
  c.cascade = ml_collections.ConfigDict({
      "num_stages": 3, "stage": int(stage), "sigma": 1.0, "simulated": 0.5,
      "previous": f"runs/{name}_s{int(stage) - 1}" if stage != "1" else "",
      "canvas": 512, "canvas_margin": 1.5})
  if stage != "1":
    c.data.image_size = patch_size
  return c
