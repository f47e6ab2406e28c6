"""The coordinate regressors of Chen et al. (UCSD course report) on LSP: the regressor family's base
recipe. configs/regressor_{baseline1,baseline2,alexnet,vgg19}_lsp{,_cpu}.py are ``get_config``
with their network (``model``, ``image_size``, the model's fields) and, for the CPU ones,
``common.regressor_cpu_budget``; DeepPose's stages (configs/deeppose_lsp{,_cpu}.py) are
``deeppose``, the AlexNet regressor of phase 2 turned into a cascade stage.

Alone (``--config=configs/regressor_lsp.py:1``), it is Baseline-1 at paper scale under the
family's name (configs/regressor_baseline1_lsp.py has the same settings).
"""
import ml_collections

from jaxpose.configs import common, default

# Chen et al. Table 2 reports the classification heads' accuracy; §3.5 scores locations at 1/12
# of the (square) input's height; PCK@0.2 is the usual LSP figure beside it.
REGRESSOR_METRICS = ("visibility", "pck_height@1/12", "pck@0.2")
PHASES = ("1", "2")


def get_config(phase="1", *, name: str = "regressor_lsp", model: str = "baseline1",
               image_size: int = 224, **fields):
  """A coordinate regressor of Chen et al. on LSP, one of its two training phases (§3.3;
  ``two_phase``). ``name`` is the recipe (``regressor_alexnet_lsp``), ``model`` the registry
  name, ``fields`` the model's constructor fields.

  Paper scale (the report gives no optimiser settings beyond "stochastic gradient descent" and
  eq. 4's weight decay): SGD with momentum 0.9, learning rate 0.01, weight decay 5e-4 on the
  kernels and batch 128 — AlexNet's and VGG's own recipe (Krizhevsky et al. 2012 §5; Simonyan &
  Zisserman 2014 §3.1) — for 100 epochs, ÷10 at epochs 60 and 85, in each phase. Data: the
  library's LSP protocol (``common.lsp_protocol``: LSP train + LSPET for training, LSP test for
  evaluation, latest checkpoint). §3.1 trains on LSPET alone: ``--config.data.name=lspet
  --config.data.eval_split=train`` gives that (validation then watches the training images, the
  report's Fig. 9), and ``evaluate.py --dataset=lsp --split=test`` the test figures."""
  c = default.get_config()
  c.model = ml_collections.ConfigDict(
      {"name": model, "num_joints": 14, "dtype": "float32", "layer_forms": "auto",
       "regression": True,
       # the originals' layers, spelled out so that the command line can change them
       "batch_norm": False, "dropout_rate": 0.5, **fields})
  common.lsp_protocol(c, REGRESSOR_METRICS)
  c.data.image_size = image_size
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = 0.01
  c.train.weight_decay = 5e-4
  c.train.batch_size = 128
  common.epoch_schedule(c, 100, (60, 85))
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

  Training (the report gives none; DeepPose used DistBelief's AdaGrad): the regressors' recipe
  (``get_config``: SGD, momentum 0.9, lr 0.01, weight decay 5e-4, batch 128) for 100 epochs per
  stage on LSP + LSPET; evaluation PCP@0.5 per limb (DeepPose's table) and PCK@0.2 on the LSP
  test images, the whole cascade (``eval.stage`` = t for the first t stages)."""
  stage = str(stage)
  if stage not in STAGES:
    raise ValueError(f"{name}: stage {stage!r}; expected one of {STAGES} "
                     f"(--config=configs/{name}.py:2)")
  c = get_config("2", name=name, model="alexnet", image_size=image_size, visibility=False,
                 regression_layers=2, **model_fields)
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
