"""jaxpose against the same stacked hourglass in PyTorch, in one process, alternating (issue #20).

  pip install -e .[bench]        # PyTorch: an optional extra, never a library or CI dependency
  python benchmarks/pytorch_reference.py --config=configs/hourglass.py --config.train.batch_size=4
  python benchmarks/pytorch_reference.py                       # configs/default.py, train step
  python benchmarks/pytorch_reference.py --mode=infer          # batch-1 inference latency
  python benchmarks/pytorch_reference.py --reps=3 --steps=3 --contenders=jax_fp32,torch_cl

The PyTorch network is this file's own port of ``jaxpose.models.StackedHourglass`` (layer for
layer, with the flax parameter names as module names), built from the same config values
(``model.num_stacks``, ``features``, ``num_blocks``, ``depth``, ``num_joints``,
``data.image_size``); the script refuses to run unless its parameter count equals jaxpose's
(``jax.eval_shape`` of the model's init: 6,730,912 for the 2-stack 256-channel hourglass). Both
start from the same parameters (jaxpose's init, copied into torch), so the first step's losses
(train) or outputs (infer) are printed side by side as a check of the port.

Train mode times the whole RMSProp step of the config (``train.optimizer`` must be rmsprop:
torch.optim.RMSprop(alpha=0.99, eps=1e-8) is what jaxpose's optax recipe reproduces) on a random
batch of ``train.batch_size`` (``--batch`` overrides), loss = the heat-map family's: Σ over stacks
of the mean over (B, K, h, w) of w_k·(pred − target)². jaxpose: ``train_step.CompiledStep``, the
jitted step of benchmarks/train_step.py. Infer mode times one forward pass at ``--batch`` (1)
with running BatchNorm statistics (jaxpose: jitted ``apply(train=False)``; torch: ``eval()``
under ``inference_mode``).

Contenders, each repetition running every one in turn (``--warmup`` untimed steps, then the median
of ``--steps`` timed ones): ``jax_fp32``; ``jax_bf16`` (``model.dtype=bfloat16``); ``torch_nchw``
(fp32, NCHW); ``torch_cl`` (fp32, channels_last); ``torch_bf16`` (``autocast(bfloat16)``,
channels_last). Printed: s/step and images/s (medians over repetitions), the achieved GFLOP/s
(XLA's cost-analysis FLOPs of the jaxpose fp32 computation for every contender, so that the column
compares like with like), the ratios jaxpose images/s ÷ torch images/s (median of the per-
repetition ratios, min–max beside it), and the machine's 2048² matmul GFLOP/s in jnp and torch,
fp32 and bf16 (a kernel too slow for 2048², such as torch's bf16 ``mm`` on a CPU without
AVX-512 BF16, at the largest side that fits its time budget, named beside it). The runtime
tuning of jaxpose.runtime (scheduler flag, glibc hugetlb malloc) applies to the whole process,
torch included; JAXPOSE_CPU_TUNING=0 switches it off for both. The load average is printed at
the end, with a warning where other processes compete for the CPUs: torch's OpenMP threads then
slow down many times (``--torch_threads=1`` limits them; XLA's pool suffers far less).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train_step  # noqa: E402  (configures the runtime first, as every benchmark does)

import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from jaxpose import models  # noqa: E402
# the port itself lives in torch_hourglass.py (no ml_collections there: accelerator.py uses it too)
from torch_hourglass import (import_torch, load_jaxpose_variables, torch_param_count,  # noqa: E402,F401
                             torch_port)

MODES = ("train", "infer")
CONTENDERS = {
    "jax_fp32": "jaxpose fp32",
    "jax_bf16": "jaxpose bf16 (model.dtype)",
    "torch_nchw": "torch fp32 NCHW",
    "torch_cl": "torch fp32 channels_last",
    "torch_bf16": "torch bf16 autocast ch_last",
}
JAX_CONTENDERS = ("jax_fp32", "jax_bf16")
TORCH_CONTENDERS = ("torch_nchw", "torch_cl", "torch_bf16")
HOURGLASS_2x256_PARAMS = 6_730_912  # the figure, and bearpaw/pytorch-pose's

flags.DEFINE_enum("mode", "train", MODES, "train: the RMSProp train step; infer: one forward pass.")
flags.DEFINE_integer("reps", 5, "Repetitions; every contender runs once in each, in turn.")
flags.DEFINE_integer("batch", 0, "Batch size; 0 = train.batch_size (train) or 1 (infer).")
flags.DEFINE_list("contenders", list(CONTENDERS), "Subset of " + ",".join(CONTENDERS) + ".")
flags.DEFINE_integer("matmul_size", 2048, "Side of the square matmuls of the peak measurement.")
flags.DEFINE_integer("torch_threads", 0, "torch.set_num_threads; 0 = torch's default.")
FLAGS = flags.FLAGS


# ---------------------------------------------------------------- config and the jaxpose side

def check_config(config) -> None:
  """The port covers jaxpose's stacked hourglass with the heat-map loss and RMSProp only."""
  if config.model.name != "hourglass":
    raise ValueError(f"model.name={config.model.name!r}: the PyTorch port covers model.name="
                     "'hourglass' (jaxpose.models.StackedHourglass) only")
  if str(config.train.optimizer).lower() != "rmsprop":
    raise ValueError(f"train.optimizer={config.train.optimizer!r}: the PyTorch reference "
                     "runs torch.optim.RMSprop, so the config must say rmsprop")
  if config.train.get("frozen", ()) or config.train.get("trainable", ()):
    raise ValueError("train.frozen / train.trainable: the PyTorch reference trains every layer")


def contender_config(config, name: str, batch: int):
  """A copy of ``config`` for contender ``name`` at batch ``batch``: ``model.dtype`` bfloat16
  for ``jax_bf16``, float32 for every other (torch reads only shapes and the optimizer)."""
  c = config.copy_and_resolve_references()
  c.model.dtype = "bfloat16" if name == "jax_bf16" else "float32"
  c.train.batch_size = int(batch)
  return c


def jaxpose_param_count(config) -> int:
  """Parameters of ``config``'s jaxpose model, from ``jax.eval_shape`` of its init (nothing is
  computed; BatchNorm running statistics are state, not parameters)."""
  model = models.create(config.model)
  s = int(config.data.image_size)
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, s, s, 3)),
                                             train=False))
  return int(sum(np.prod(x.shape) for x in jax.tree_util.tree_leaves(shapes["params"])))


class CompiledForward:
  """jaxpose's jitted forward pass (``apply(train=False)``, running BatchNorm statistics) at
  batch ``batch_size``, compiled; ``run(n)`` as ``train_step.CompiledStep.run``."""

  def __init__(self, config, batch_size: int):
    self.batch_size, self.size = int(batch_size), int(config.data.image_size)
    model = models.create(config.model)
    self.variables = model.init(jax.random.PRNGKey(0),
                                jnp.zeros((1, self.size, self.size, 3)), train=False)
    rng = np.random.default_rng(0)
    self.image = jax.device_put(
        rng.normal(size=(self.batch_size, self.size, self.size, 3)).astype(np.float32))
    fwd = jax.jit(lambda v, x: model.apply(v, x, train=False)["heatmaps"][-1])
    t0 = time.perf_counter()
    self.compiled = fwd.lower(self.variables, self.image).compile()
    self.compile_s = time.perf_counter() - t0
    self.gflop_per_step = train_step.xla_flops(self.compiled) / 1e9
    self.output = None

  def run(self, n: int) -> list:
    times = []
    for _ in range(n):
      t = time.perf_counter()
      self.output = jax.block_until_ready(self.compiled(self.variables, self.image))
      times.append(time.perf_counter() - t)
    return times


# ---------------------------------------------------------------- the PyTorch port

def torch_model(config):
  """The port of ``config.model`` (float32, NCHW)."""
  check_config(config)
  m = config.model
  return torch_port().StackedHourglass(int(m.num_joints), int(m.num_stacks), int(m.num_blocks),
                                       int(m.features), int(m.depth))


class TorchContender:
  """One PyTorch contender (``torch_nchw``, ``torch_cl`` or ``torch_bf16``) of ``config`` at
  ``config.train.batch_size``: its own copy of the port, optimizer and inputs. ``run(n)`` times
  ``n`` train steps (``mode="train"``) or forward passes (``"infer"``); ``last`` is the last
  loss (train) or final heat maps as NHWC numpy (infer)."""

  def __init__(self, name: str, config, mode: str, variables, batch: dict):
    torch = torch_port().torch
    self.torch, self.mode = torch, mode
    self.model = torch_model(config)
    load_jaxpose_variables(self.model, variables)
    self.params = torch_param_count(self.model)
    fmt = torch.contiguous_format if name == "torch_nchw" else torch.channels_last
    self.model = self.model.to(memory_format=fmt)
    # NHWC numpy permuted to NCHW is channels_last already; .contiguous(fmt) fixes the layout
    nchw = lambda a: torch.from_numpy(np.array(a, np.float32)).permute(0, 3, 1, 2).contiguous(
        memory_format=fmt)
    self.image = nchw(batch["image"])
    self.amp = name == "torch_bf16"
    if mode == "train":
      self.model.train()
      self.heatmaps = nchw(batch["heatmaps"])
      self.weight = torch.from_numpy(np.array(batch["target_weight"], np.float32))[:, :, None, None]
      decay = float(config.train.get("weight_decay", 0.0))
      kernels = [p for p in self.model.parameters() if p.ndim == 4]  # optim.decay_mask: kernels
      others = [p for p in self.model.parameters() if p.ndim != 4]
      # optax.rmsprop(decay=0.99, eps=1e-8, eps_in_sqrt=False) + add_decayed_weights(kernels)
      self.opt = torch.optim.RMSprop([{"params": kernels, "weight_decay": decay},
                                      {"params": others, "weight_decay": 0.0}],
                                     lr=float(config.train.learning_rate), alpha=0.99, eps=1e-8)
      self.clip = float(config.train.get("grad_clip", 0.0))  # optax.clip_by_global_norm, first
    else:
      self.model.eval()
    self.last = None

  def _autocast(self):
    return self.torch.autocast("cpu", dtype=self.torch.bfloat16, enabled=self.amp)

  def loss(self, outputs):
    """The heat-map family's loss: Σ over stacks of mean over (B, K, h, w) of w_k·(pred − t)²."""
    return sum(((o.float() - self.heatmaps) ** 2 * self.weight).mean() for o in outputs)

  def step(self):
    if self.mode == "train":
      self.opt.zero_grad(set_to_none=True)
      with self._autocast():
        loss = self.loss(self.model(self.image))
      loss.backward()
      if self.clip:
        self.torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
      self.opt.step()
      return float(loss.detach())
    with self.torch.inference_mode(), self._autocast():
      out = self.model(self.image)[-1]
    return out.float().permute(0, 2, 3, 1).numpy()

  def run(self, n: int) -> list:
    times = []
    for _ in range(n):
      t = time.perf_counter()
      self.last = self.step()
      times.append(time.perf_counter() - t)
    return times

  def counted_gflop(self) -> float:
    """GFLOP of one step as torch's FlopCounterMode counts them (convolutions and matmuls, forward
    and backward; no elementwise work, unlike XLA's estimate). Takes one step."""
    from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415
    with FlopCounterMode(display=False) as counter:
      self.step()
    return counter.get_total_flops() / 1e9


# ---------------------------------------------------------------- peak and timing

def _median_time(fn, budget_s: float) -> float:
  """Median time of ``fn()`` after one untimed call: 5 calls, fewer when they would take more
  than ``budget_s`` (at least one)."""
  fn()
  t = time.perf_counter()
  fn()
  times = [time.perf_counter() - t]
  for _ in range(min(4, int(budget_s / max(times[0], 1e-9)) - 1)):
    t = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t)
  return float(np.median(times))


def _matmul_rate(make, size: int, budget_s: float = 2.0) -> tuple:
  """(GFLOP/s, side) of ``make(n)()``, an n×n matmul, at side ``size`` — or, where a kernel is
  so slow that one product would take more than ``budget_s`` / 4 (torch's bf16 ``mm`` without
  AVX-512 BF16 runs at ~1 GFLOP/s), at the largest side from 256 up, doubling, that stays under
  it."""
  n = 256
  while True:
    fn = make(n)
    fn()
    t = time.perf_counter()
    fn()
    t = time.perf_counter() - t
    if n >= size or 8 * t > budget_s / 4:  # the next side takes 8× as long
      break
    n *= 2
  return 2.0 * n ** 3 / _median_time(fn, budget_s) / 1e9, n


def matmul_gflops(size: int, with_torch: bool) -> dict:
  """``{name: (GFLOP/s, side)}`` of square matmuls (``_matmul_rate``): jnp fp32, jnp bf16
  operands with float32 accumulation and result (``preferred_element_type``), and (with torch)
  torch fp32 and bf16 ``mm`` (bf16 result, as autocast makes)."""
  rng = np.random.default_rng(0)
  host = lambda n: rng.normal(size=(2, n, n)).astype(np.float32)
  f32 = jax.jit(jnp.dot)
  bf16 = jax.jit(lambda x, y: jnp.dot(x, y, preferred_element_type=jnp.float32))

  def jnp_mm(dtype, fn):
    def make(n):
      a, b = jnp.asarray(host(n), dtype)
      return lambda: fn(a, b).block_until_ready()
    return make

  out = {"jnp fp32": _matmul_rate(jnp_mm(jnp.float32, f32), size),
         "jnp bf16->fp32": _matmul_rate(jnp_mm(jnp.bfloat16, bf16), size)}
  if with_torch:
    torch = torch_port().torch

    def torch_mm(dtype):
      def make(n):
        a, b = torch.from_numpy(host(n)).to(dtype)
        return lambda: torch.mm(a, b)
      return make

    out["torch fp32"] = _matmul_rate(torch_mm(torch.float32), size)
    out["torch bf16"] = _matmul_rate(torch_mm(torch.bfloat16), size)
  return out


def build(config, mode: str, batch: int, names) -> tuple:
  """The contenders of ``names`` (all from the same initial parameters and inputs) and a dict
  of facts: parameter counts (checked equal), compile / first-step times, FLOP counts and the
  first step's losses (train) or heat maps (infer)."""
  check_config(config)
  expected = jaxpose_param_count(config)
  facts = {"params": expected, "setup_s": {}, "first": {}}
  runners = {}
  for name in (n for n in names if n in JAX_CONTENDERS):
    c = contender_config(config, name, batch)
    r = train_step.CompiledStep(c) if mode == "train" else CompiledForward(c, batch)
    if name == "jax_fp32" or "variables" not in facts:
      if mode == "train":  # read before the first (donating) step
        facts["variables"] = jax.device_get({"params": r.state.params,
                                             "batch_stats": r.state.batch_stats})
        facts["batch"] = jax.device_get(r.batch)
      else:
        facts["variables"] = jax.device_get(r.variables)
        facts["batch"] = {"image": jax.device_get(r.image)}
      facts["gflop_per_step"] = r.gflop_per_step
    facts.setdefault("xla_gflop", {})[name] = r.gflop_per_step
    facts["setup_s"][name] = r.compile_s
    r.run(1)
    facts["first"][name] = (float(r.metrics["loss"]) if mode == "train"
                            else np.asarray(r.output, np.float32))
    runners[name] = r
  torch_names = [n for n in names if n in TORCH_CONTENDERS]
  if torch_names and "variables" not in facts:  # torch alone: jaxpose's init all the same
    c = contender_config(config, "jax_fp32", batch)
    model = models.create(c.model)
    s = int(c.data.image_size)
    init = jax.jit(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, s, s, 3)), train=False))
    facts["variables"] = jax.device_get(init())  # one compile, not one per initialiser
    from jaxpose import families  # noqa: PLC0415
    facts["batch"] = train_step.fake_batch(c, families.get(c), batch, np.random.default_rng(0))
    facts["gflop_per_step"] = float("nan")
  for name in torch_names:
    c = contender_config(config, name, batch)
    r = TorchContender(name, c, mode, facts["variables"], facts["batch"])
    if r.params != expected:
      raise AssertionError(f"the PyTorch port has {r.params:,} parameters, jaxpose's "
                           f"{config.model.name} {expected:,}: the port is not faithful")
    t0 = time.perf_counter()
    r.run(1)
    facts["setup_s"][name] = time.perf_counter() - t0
    facts["first"][name] = r.last
    runners[name] = r
  if torch_names:  # counted on an fp32 contender where there is one (bf16 can be very slow)
    counted = next((n for n in torch_names if n != "torch_bf16"), torch_names[0])
    facts["torch_gflop"] = runners[counted].counted_gflop()
  return runners, facts


def timed(runners: dict, reps: int, steps: int, warmup: int) -> dict:
  """``{name: [median step time of each repetition]}``, the contenders alternated."""
  per_rep = {n: [] for n in runners}
  for _ in range(reps):
    for name, r in runners.items():
      r.run(warmup)
      per_rep[name].append(float(np.median(r.run(steps))))
  return per_rep


# ---------------------------------------------------------------- report

def _first_step_line(mode: str, first: dict) -> str:
  if mode == "train":
    return "first-step loss (same parameters, same batch): " + ", ".join(
        f"{n} {v:.6g}" for n, v in first.items())
  ref_name = "jax_fp32" if "jax_fp32" in first else next(iter(first))
  ref = first[ref_name]
  scale = float(np.max(np.abs(ref))) or 1.0
  return (f"first forward, max |Δ heat map| / max |{ref_name}| (same parameters, same image): "
          + ", ".join(f"{n} {float(np.max(np.abs(v - ref))) / scale:.2e}"
                      for n, v in first.items() if n != ref_name))


def report(config, mode, batch, facts, peaks, per_rep, reps, steps, warmup) -> None:
  torch = torch_port().torch if any(n in TORCH_CONTENDERS for n in per_rep) else None
  m, s = config.model, int(config.data.image_size)
  print(f"config={config.get('name')} mode={mode} model={m.name} stacks={m.num_stacks} "
        f"features={m.features} depth={m.depth} blocks={m.num_blocks} joints={m.num_joints} "
        f"input={s}x{s} heatmaps={config.data.heatmap_size}² batch={batch}")
  print(f"parameters: jaxpose {facts['params']:,} (jax.eval_shape of init) = torch port "
        f"{facts['params']:,}" if torch else f"parameters: jaxpose {facts['params']:,}")
  env = (f"jax {jax.__version__} ({jax.default_backend()}, {jax.device_count()} device(s), "
         f"{os.cpu_count()} CPUs)")
  if torch:
    env += (f" | torch {torch.__version__} ({torch.get_num_threads()} threads, oneDNN "
            f"{torch.backends.mkldnn.is_available()})")
  print(env)
  print(f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r} "
        f"GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')!r}")
  print("matmul GFLOP/s: " + " | ".join(
      f"{k} {v:.1f}" + (f" ({n}², slower than {FLAGS.matmul_size}² allows)"
                        if n != FLAGS.matmul_size else f" ({n}²)")
      for k, (v, n) in peaks.items()))
  gf = facts["gflop_per_step"]
  if not np.isfinite(gf) and "torch_gflop" in facts:  # no jaxpose contender: torch's count
    gf = facts["torch_gflop"]
  counts = []
  if facts.get("xla_gflop"):
    counts.append("XLA estimate " + ", ".join(f"{n} {v:.2f}" for n, v in facts["xla_gflop"].items()))
  if "torch_gflop" in facts:
    counts.append(f"torch FlopCounterMode {facts['torch_gflop']:.2f} (convolutions + matmuls only)")
  print("GFLOP/step: " + "; ".join(counts))
  print("setup (s): " + ", ".join(
      f"{n} {'compile' if n in JAX_CONTENDERS else 'first step'} {v:.1f}"
      for n, v in facts["setup_s"].items()))
  print(_first_step_line(mode, facts["first"]))
  unit = "step" if mode == "train" else "forward"
  print(f"reps={reps}, each: {warmup} untimed + median of {steps} timed, contenders alternated")
  head = (f"{'contender':<30} {'s/' + unit:>10} {'min-max over reps':>19} {'images/s':>9} "
          f"{'GFLOP/s':>8}")
  print(head)
  print("-" * len(head))
  for name, ts in per_rep.items():
    med = float(np.median(ts))
    print(f"{CONTENDERS[name]:<30} {med:>10.4f} {min(ts):>9.4f}-{max(ts):<9.4f} "
          f"{batch / med:>9.2f} {gf / med:>8.1f}")
  jx = [n for n in per_rep if n in JAX_CONTENDERS]
  tn = [n for n in per_rep if n in TORCH_CONTENDERS]
  if jx and tn:
    print("ratios: jaxpose images/s ÷ torch images/s (> 1 = jaxpose faster); median of the "
          "per-rep ratios [min-max]")
    print(f"{'':<28}" + "".join(f"{CONTENDERS[t]:>30}" for t in tn))
    for j in jx:
      cells = []
      for t in tn:
        r = np.asarray(per_rep[t]) / np.asarray(per_rep[j])
        cells.append(f"{np.median(r):.2f} [{r.min():.2f}-{r.max():.2f}]")
      print(f"{CONTENDERS[j]:<28}" + "".join(f"{c:>30}" for c in cells))


def main(_):
  names = list(dict.fromkeys(FLAGS.contenders))
  unknown = sorted(set(names) - set(CONTENDERS))
  if unknown or not names:
    raise SystemExit(f"error: --contenders: unknown {unknown}; expected some of {list(CONTENDERS)}")
  config = FLAGS.config
  try:
    check_config(config)
    if any(n in TORCH_CONTENDERS for n in names):
      import_torch()
  except (ValueError, ImportError) as e:
    raise SystemExit(f"error: {e}")
  mode = FLAGS.mode
  batch = FLAGS.batch or (int(config.train.batch_size) if mode == "train" else 1)
  if FLAGS.torch_threads and any(n in TORCH_CONTENDERS for n in names):
    torch_port().torch.set_num_threads(FLAGS.torch_threads)
  load = os.getloadavg()
  runners, facts = build(config, mode, batch, names)
  peaks = matmul_gflops(FLAGS.matmul_size, any(n in TORCH_CONTENDERS for n in names))
  per_rep = timed(runners, FLAGS.reps, FLAGS.steps, FLAGS.warmup)
  report(config, mode, batch, facts, peaks, per_rep, FLAGS.reps, FLAGS.steps, FLAGS.warmup)
  after = os.getloadavg()[0]
  print(f"load average (1 min) before / after: {load[0]:.2f} / {after:.2f} on {os.cpu_count()} CPUs")
  if max(load[0], after) > 0.5 * (os.cpu_count() or 1):
    print("warning: other processes compete for the CPUs. Torch's OpenMP threads slow down many "
          "times when the CPUs are oversubscribed (try --torch_threads=1), and every figure here "
          "is below the machine's; compare only ratios measured alternating, on an idle machine")


if __name__ == "__main__":
  flags.FLAGS.set_default("steps", 3)
  flags.FLAGS.set_default("warmup", 1)
  app.run(main)
