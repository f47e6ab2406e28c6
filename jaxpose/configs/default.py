"""The default recipe: a small stacked hourglass on the embedded synthetic data.

`python train.py` runs this into `runs/default`. It is sized to finish in about ten
minutes on a 2-core CPU; every value can be overridden as `--config.KEY=VALUE`.
"""
import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "default"
  c.seed = 0
  c.init_from = ""

  c.model = ml_collections.ConfigDict()
  c.model.name = "hourglass"
  c.model.num_stacks = 2
  c.model.num_blocks = 1
  c.model.depth = 4
  c.model.features = 64
  c.model.num_joints = 16
  c.model.dtype = "float32"
  # Forms of the shared layers (jaxpose/models/layers.py, "Layer forms"): "auto" = the CPU forms
  # (matmul 1×1 convs, hand-written conv backward, bf16 row-shift convs, reshape max-pool) on the
  # CPU backend and XLA's own convolutions, gradients and reduce_window pooling on GPU / TPU;
  # "cpu" or "xla" forces one (tests, benchmarks/accelerator.py).
  c.model.layer_forms = "auto"

  c.data = ml_collections.ConfigDict()
  c.data.name = "synthetic_pose"
  c.data.root = ""
  c.data.skeleton = ""  # "" = the dataset's own skeleton
  c.data.train_split = "train"
  c.data.eval_split = "validation"
  c.data.image_size = 128
  c.data.heatmap_size = 32
  c.data.sigma = 1.0
  c.data.scale_pad = 1.25
  c.data.shuffle_buffer = 4096
  c.data.cache = True
  c.data.pyramid_levels = 4
  c.data.limit = 0            # records per split of a real dataset, 0 = all
  c.data.on_error = "raise"   # a bad record raises naming file, record and field; "skip" drops
                              # it and reports the count (e.g. FLIC's images absent from a union)
  c.data.part_windows = ml_collections.ConfigDict(
      {"crop": 112, "window": 30, "grid": 8, "beta": 0.3})
  c.data.synthetic = ml_collections.ConfigDict(
      {"train_size": 4000, "validation_size": 500, "test_size": 500, "image_size": 128,
       "seed": 0})
  c.data.augment = ml_collections.ConfigDict({
      "scale": 0.25, "rotation": 30.0, "rotation_prob": 0.6, "shear": 0.0, "flip": True,
      "color": 0.2})

  c.train = ml_collections.ConfigDict()
  # Batch 8 for 3200 steps beat batch 16 for 1600 (same images): small batches give more updates
  # in a short run (the figures: docs/results/hourglass.md, "The default run").
  c.train.batch_size = 8
  c.train.num_steps = 3200
  c.train.num_epochs = -1
  c.train.optimizer = "rmsprop"
  c.train.learning_rate = 1e-3
  c.train.weight_decay = 0.0
  c.train.grad_clip = 0.0  # > 0: clip the gradient's global norm (training.optim)
  c.train.schedule = ml_collections.ConfigDict({
      "name": "piecewise",       # constant | piecewise | cosine
      "warmup_steps": 50,
      "boundaries": (0.75,),      # fractions of the run (< 1) or epochs (>= 1) at which lr drops
      "boundary_unit": "fraction",  # fraction | epoch | step
      "decay": 0.1,
  })
  c.train.log_every = 50
  c.train.eval_every = 1600
  c.train.checkpoint_every = 1600
  c.train.keep_checkpoints = 2
  # Freezing (two-phase training, course report §3.3): top-level parameter-name prefixes that
  # do not train (frozen), or the only ones that do (trainable); () = everything trains.
  c.train.frozen = ()
  c.train.trainable = ()

  c.loss = ml_collections.ConfigDict()
  # Weights of the family's loss terms (None = 1). A weight for a term the model's family does
  # not produce is an error. Terms: heatmaps (every heat-map family), pyramid (MSN), background
  # (CPM), coords and visibility (coordinate regressors), coords and parts (HMLPE: λ_r, λ_d).
  c.loss.weights = ml_collections.ConfigDict(
      {t: ml_collections.config_dict.placeholder(float)
       for t in ("heatmaps", "pyramid", "background", "coords", "visibility", "parts")})
  # Multi-scale supervision (MSN): "pixels" = Ke et al. eq. (1), each scale's squared error
  # summed over its pixels (level i weighs 4^-i against GT); "uniform" = every level's
  # per-pixel mean weighs 1. See jaxpose/losses.py.
  c.loss.pyramid_weighting = "pixels"

  c.eval = ml_collections.ConfigDict()
  c.eval.flip = False
  # Multi-scale test: box-size factors (s > 1 = wider box); (1.0,) = the plain crop,
  # codecs.heatmap.PYRAMID_SCALES = the six scales of Tang & Wu 2019 §4.2.
  c.eval.scales = (1.0,)
  # The sub-pixel step of heat-map decoding: "dark" = DARK's Taylor step on the blurred log-map
  # (Zhang et al. 2020; +0.9 PCK@0.2 for the released LSP model), "quarter" = Newell et al.'s
  # quarter-pixel shift (what every run before this key decoded with).
  c.eval.subpixel = "dark"
  c.eval.batch_size = 64
  c.eval.metrics = ("pckh@0.5",)
  c.eval.checkpoint = "latest"  # latest | best: what train.py's final and evaluate.py's
                                # default evaluation read
  return c
