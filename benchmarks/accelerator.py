"""jaxpose against the PyTorch port of the stacked hourglass on one accelerator, in one run (#37).

  python benchmarks/accelerator.py --out=/tmp/acc                  # the default set, ≤ 8 min
  python benchmarks/accelerator.py --out=/tmp/acc --smoke          # tiny, any device (tests: CPU)
  python benchmarks/accelerator.py --out=$OUT --per_core_images_s=N --pbn --batches=16,64

Needs jax, flax, optax, numpy, absl and (optionally) torch only: no tensorflow, no tfds, no
ml_collections (the config is a plain attribute dict, ``Section``), so it runs on the lent GPU
machines as they are. The torch network is benchmarks/torch_hourglass.py's port (the one
benchmarks/pytorch_reference.py uses), loaded with jaxpose's own initial parameters.

Rows, in this order (a row is a model × mode × batch × dtype; its contenders alternate, each
repetition running every contender once: ``--warmup`` untimed, then ``--steps`` timed steps
with one synchronisation at the end, the median over ``--reps`` repetitions):
  train  8-stack 256² batch 32 bf16  jaxpose in the backend's forms (``model.layer_forms=auto``:
         XLA's convolutions on GPU), jaxpose with the CPU forms (``layer_forms=cpu``), torch
         ``autocast(bfloat16)`` channels_last;
  train  8-stack 256² batch 32 fp32  jaxpose auto, torch fp32 channels_last (TF32 state printed
         for both: jax's default matmul precision, torch's matmul / cuDNN TF32 switches);
  train  2-stack, the same two rows;
  infer  8-stack batch 1 (latency) and batch 32 (throughput), bf16, jaxpose auto vs torch;
  behind flags: ``--pbn`` (PBN-8, jaxpose only: the port is an hourglass), ``--batches`` (more
  train batch sizes of the 8-stack bf16 row), ``--cpu_form=all`` (CPU forms in fp32 rows too).
Printed and written (``--out``/accelerator.md, accelerator.json): ms/step, images/s, XLA's FLOPs
per step (``compiled.cost_analysis()``; torch rows are given the FLOPs of jaxpose's auto-form
step of the same row, so that every column compares like with like), MFU against this run's
measured square-matmul TFLOP/s in bf16 (float32 accumulation) and fp32 (jnp, default precision),
peak device memory (jaxpose: ``compiled.memory_analysis()``; torch:
``torch.cuda.max_memory_allocated``), jaxpose ÷ torch images/s, and the host cores that the
fastest jaxpose step rate would need for its input (``--per_core_images_s``: augmented, encoded
256² images/s of one core, from ``benchmarks/pipeline.py --out``).

Sizing (the issue allows 8 minutes on an H100, compiles included). Measured here on the 2-core
CPU (load ≈ 5, jax 0.10.2, ``--smoke`` aside): the train-step compile of a 2-stack, 64-channel
hourglass at 128² took 21 s in the xla forms and 25 s in the CPU forms (bf16); an 8-stack one
took 3.6× the 2-stack's (compile time grows with the number of ops, ≈ linearly in stacks). XLA's
GPU compiler also autotunes every distinct convolution shape (the hourglass has ~20 distinct
ones, shared across stacks), so the GPU estimate is 30–60 s per 8-stack train step and 10–20 s
per 2-stack one: 3 × 8-stack (bf16 auto, bf16 cpu forms, fp32) + 2 × 2-stack ×(2–3 contenders)
+ 2 inference compiles ≈ 4–5 min of compiles; the timed steps are seconds (an 8-stack batch-32
step is 2.6 TFLOP, tens of ms on an H100). To stay inside 8 minutes whatever the compile times
turn out to be, every contender is skipped (and listed as skipped in both files) when the time
spent so far plus the slowest contender set-up seen so far would pass ``--budget_s`` (420 s:
a minute of margin for start-up and the matmul peaks).
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from absl import app, flags  # noqa: E402

from jaxpose import families, models  # noqa: E402
from jaxpose.training import state as state_lib  # noqa: E402
from jaxpose.training.step import make_train_step  # noqa: E402

flags.DEFINE_string("out", "accelerator_out", "Folder for accelerator.md and accelerator.json.")
flags.DEFINE_bool("smoke", False, "A tiny configuration on whatever device there is.")
flags.DEFINE_integer("steps", 10, "Timed steps per repetition.")
flags.DEFINE_integer("warmup", 2, "Untimed steps per repetition.")
flags.DEFINE_integer("reps", 3, "Repetitions (contenders alternate within each).")
flags.DEFINE_float("budget_s", 420.0, "Skip what would end the run after this many seconds.")
flags.DEFINE_bool("pbn", False, "Add a PBN-8 bf16 train row (jaxpose only).")
flags.DEFINE_list("batches", [], "More train batch sizes of the 8-stack bf16 row.")
flags.DEFINE_enum("cpu_form", "bf16", ["bf16", "all", "none"],
                  "Rows that also run jaxpose with model.layer_forms=cpu (xla on a CPU).")
flags.DEFINE_enum("torch", "auto", ["auto", "off"], "auto: the torch contenders where torch "
                  "is installed.")
flags.DEFINE_enum("fp32_precision", "default", ["default", "highest"],
                  "highest: jax_default_matmul_precision=highest and torch's TF32 off.")
flags.DEFINE_float("per_core_images_s", 0.0, "Input pipeline images/s of one host core "
                   "(benchmarks/pipeline.py); 0 = not given.")
flags.DEFINE_integer("matmul_size", 8192, "Side of the square matmuls of the peak rates.")
FLAGS = flags.FLAGS


class Section(dict):
  """A config section read by attribute, as jaxpose reads an ``ml_collections.ConfigDict``."""

  def __getattr__(self, key):
    try:
      return self[key]
    except KeyError:
      raise AttributeError(key) from None


def config(stacks: int, features: int, size: int, dtype: str, forms: str, name="hourglass",
           depth: int = 4, **model) -> Section:
  """The fields jaxpose's model, family and loss read: the hourglass recipe's (MPII, 16 joints,
  heat maps at a quarter of the input, σ = 1)."""
  return Section(
      model=Section(name=name, num_stacks=stacks, features=features, depth=depth, num_joints=16,
                    dtype=dtype, layer_forms=forms, **model),
      data=Section(name="mpii", skeleton="", image_size=size, heatmap_size=size // 4, sigma=1.0,
                   scale_pad=1.25),
      eval=Section(scales=(1.0,), subpixel="dark"), loss=Section())


def rmsprop():
  """The recipes' RMSProp (PyTorch semantics; ``torch.optim.RMSprop(alpha=0.99, eps=1e-8)``)."""
  return optax.rmsprop(2.5e-4, decay=0.99, eps=1e-8, eps_in_sqrt=False)


def _flops(compiled) -> float:
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost.get("flops", float("nan"))) if cost else float("nan")


def _memory_mib(compiled) -> float:
  m = compiled.memory_analysis()
  if m is None:
    return float("nan")
  total = (m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
           - m.alias_size_in_bytes)
  return total / 2 ** 20


_INITIAL = {}


def initial_variables(cfg: Section) -> dict:
  """jaxpose's initial parameters and BatchNorm statistics of ``cfg``'s network, host numpy, one
  jitted init per architecture: they do not depend on ``model.dtype`` or ``layer_forms``
  (parameters are float32), and the init's random draws cost as much to compile as a step."""
  m = cfg.model
  key = (m.name, m.num_stacks, m.features, m.depth, int(cfg.data.image_size))
  if key not in _INITIAL:
    model = models.create({**m, "dtype": "float32", "layer_forms": "auto"})
    s = int(cfg.data.image_size)
    init = jax.jit(lambda r: model.init({"params": r, "dropout": r},
                                        jnp.zeros((1, s, s, 3), jnp.float32), train=False))
    v = jax.device_get(init(jax.random.key(0)))
    _INITIAL[key] = {"params": v["params"], "batch_stats": v.get("batch_stats", {})}
  return _INITIAL[key]


class JaxContender:
  """jaxpose's jitted train step (``make_train_step``, the trainer's; state donated) or forward
  pass (``apply(train=False)``) of ``cfg`` at ``batch``, compiled; ``run(n)`` → seconds per
  step of ``n`` steps dispatched back to back, synchronised once."""

  def __init__(self, cfg: Section, mode: str, batch: int):
    self.mode, self.batch = mode, batch
    model = models.create(cfg.model)
    s = int(cfg.data.image_size)
    tx = rmsprop()
    self.variables = initial_variables(cfg)
    state = state_lib.TrainState(
        step=jnp.zeros((), jnp.int32), params=jax.device_put(self.variables["params"]),
        batch_stats=jax.device_put(self.variables["batch_stats"]),
        opt_state=tx.init(self.variables["params"]), rng=jax.random.key(1))
    rng = np.random.default_rng(0)
    h = int(cfg.data.heatmap_size)
    self.inputs = jax.device_put({
        "image": rng.normal(size=(batch, s, s, 3)).astype(np.float32),
        "heatmaps": rng.uniform(size=(batch, h, h, 16)).astype(np.float32),
        "target_weight": np.ones((batch, 16), np.float32)})
    t0 = time.perf_counter()
    if mode == "train":
      fn = jax.jit(make_train_step(model, tx, families.get(cfg)), donate_argnums=(0,))
      self.compiled = fn.lower(state, self.inputs).compile()
      self.state = state
    else:
      fn = jax.jit(lambda v, x: model.apply(v, x, train=False)["heatmaps"][-1])
      self.compiled = fn.lower(self.variables, self.inputs["image"]).compile()
      self.state = jax.device_put(self.variables)
    self.compile_s = time.perf_counter() - t0
    self.flops = _flops(self.compiled)
    self.memory_mib = _memory_mib(self.compiled)
    self.first = None

  def _step(self):
    if self.mode == "train":
      self.state, metrics = self.compiled(self.state, self.inputs)
      return metrics["loss"]
    return self.compiled(self.state, self.inputs["image"])

  def run(self, n: int) -> float:
    t = time.perf_counter()
    out = None
    for _ in range(n):
      out = self._step()
    jax.block_until_ready((self.state, out))
    if self.first is None:
      self.first = float(out) if self.mode == "train" else float(jnp.abs(out).mean())
    return (time.perf_counter() - t) / max(n, 1)


class TorchContender:
  """The PyTorch port of the same hourglass from jaxpose's initial parameters (``variables``):
  channels_last, on ``device``, fp32 or ``autocast(bfloat16)``; RMSProp train step (the heat-map
  family's loss) or ``inference_mode`` forward; ``run(n)`` as ``JaxContender.run``."""

  def __init__(self, cfg: Section, mode: str, batch: int, variables, inputs, device: str):
    import torch_hourglass
    torch = self.torch = torch_hourglass.import_torch()
    m = cfg.model
    self.mode, self.device = mode, torch.device(device)
    self.amp = m.dtype == "bfloat16"
    net = torch_hourglass.torch_port().StackedHourglass(16, int(m.num_stacks), 1,
                                                        int(m.features), int(m.depth))
    torch_hourglass.load_jaxpose_variables(net, variables)
    self.params = torch_hourglass.torch_param_count(net)
    self.net = net.to(self.device, memory_format=torch.channels_last)
    cl = lambda a: torch.from_numpy(np.asarray(a, np.float32)).permute(0, 3, 1, 2).to(
        self.device).contiguous(memory_format=torch.channels_last)
    self.image = cl(inputs["image"])
    self.heatmaps = cl(inputs["heatmaps"])
    self.weight = torch.from_numpy(np.asarray(inputs["target_weight"], np.float32)).to(
        self.device)[:, :, None, None]
    if mode == "train":
      self.net.train()
      self.opt = torch.optim.RMSprop(self.net.parameters(), lr=2.5e-4, alpha=0.99, eps=1e-8)
    else:
      self.net.eval()
    if self.device.type == "cuda":
      torch.cuda.reset_peak_memory_stats(self.device)
    t0 = time.perf_counter()
    self.first = self._sync(self._step())  # cuDNN's algorithm search and allocator warm-up
    self.compile_s = time.perf_counter() - t0
    self.memory_mib = (torch.cuda.max_memory_allocated(self.device) / 2 ** 20
                       if self.device.type == "cuda" else float("nan"))

  def _sync(self, out):
    if self.device.type == "cuda":
      self.torch.cuda.synchronize(self.device)
    return float(out)

  def _step(self):
    torch = self.torch
    amp = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)
    if self.mode == "train":
      self.opt.zero_grad(set_to_none=True)
      with amp:
        outs = self.net(self.image)
      loss = sum(((o.float() - self.heatmaps) ** 2 * self.weight).mean() for o in outs)
      loss.backward()
      self.opt.step()
      return loss.detach()
    with torch.inference_mode(), amp:
      return self.net(self.image)[-1].float().abs().mean()

  def run(self, n: int) -> float:
    t = time.perf_counter()
    out = None
    for _ in range(n):
      out = self._step()
    self._sync(out)
    return (time.perf_counter() - t) / max(n, 1)


def torch_or_none():
  if FLAGS.torch == "off":
    return None
  try:
    import torch
  except ImportError:
    return None
  return torch


def torch_device(torch) -> str:
  """The torch device on the same accelerator as jax's default backend ("cpu" for --smoke on a
  CPU); None where torch cannot reach it (a CPU-only torch beside a GPU jax)."""
  if jax.default_backend() == "gpu":
    return "cuda" if torch.cuda.is_available() else None
  return "cpu" if jax.default_backend() == "cpu" else None


def precision_state(torch) -> dict:
  """TF32 on both sides: jax's default matmul precision (None = XLA's DEFAULT, which lets a
  tensor-core GPU run fp32 dots and convolutions in TF32) and torch's switches."""
  state = {"jax_default_matmul_precision": jax.config.jax_default_matmul_precision}
  if torch is not None:
    state["torch.backends.cuda.matmul.allow_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
    state["torch.backends.cudnn.allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
  return state


def matmul_peaks(size: int, torch, device) -> dict:
  """TFLOP/s of a ``size``² matmul: jnp bf16 (float32 accumulation) and fp32, and torch bf16 and
  fp32 where it runs; the median of 5 timings after one untimed call."""
  rng = np.random.default_rng(0)
  a32 = rng.normal(size=(size, size)).astype(np.float32)
  out = {}

  def rate(fn):
    fn()
    times = []
    for _ in range(5):
      t = time.perf_counter()
      fn()
      times.append(time.perf_counter() - t)
    return 2 * size ** 3 / statistics.median(times) / 1e12

  for name, dtype, pref in (("jnp bf16", jnp.bfloat16, jnp.float32), ("jnp fp32", jnp.float32,
                                                                        None)):
    x = jnp.asarray(a32, dtype)
    mm = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=pref))
    out[name] = rate(lambda: mm(x, x).block_until_ready())
  if torch is not None and device is not None:
    for name, dtype in (("torch bf16", torch.bfloat16), ("torch fp32", torch.float32)):
      x = torch.from_numpy(a32).to(device=device, dtype=dtype)

      def mm():
        y = x @ x
        if device == "cuda":
          torch.cuda.synchronize()
        return y
      out[name] = rate(mm)
  return out


def rows(smoke: bool) -> list:
  """(label, mode, stacks, batch, dtype, model name) in priority order (module docstring)."""
  if smoke:
    return [("train 1-stack bf16", "train", 1, 2, "bfloat16", "hourglass"),
            ("infer 1-stack fp32 b1", "infer", 1, 1, "float32", "hourglass")]
  out = []
  for stacks in (8, 2):
    out += [(f"train {stacks}-stack bf16 b32", "train", stacks, 32, "bfloat16", "hourglass"),
            (f"train {stacks}-stack fp32 b32", "train", stacks, 32, "float32", "hourglass")]
  out += [("infer 8-stack bf16 b1", "infer", 8, 1, "bfloat16", "hourglass"),
          ("infer 8-stack bf16 b32", "infer", 8, 32, "bfloat16", "hourglass")]
  out += [(f"train 8-stack bf16 b{b}", "train", 8, int(b), "bfloat16", "hourglass")
          for b in FLAGS.batches]
  if FLAGS.pbn:
    out.append(("train PBN-8 bf16 b32", "train", 8, 32, "bfloat16", "pbn"))
  return out


def contenders(mode: str, dtype: str, name: str, have_torch: bool) -> list:
  """(label, kind, layer_forms) of one row; the first is the row's reference jaxpose run. The
  second jaxpose run takes the forms the backend does not: the CPU forms on an accelerator (the
  issue's comparison), the xla forms on a CPU (so that --smoke there runs both)."""
  out = [("jaxpose auto", "jax", "auto")]
  other = "xla" if jax.default_backend() == "cpu" else "cpu"
  if mode == "train" and (FLAGS.cpu_form == "all" or (FLAGS.cpu_form == "bf16"
                                                      and dtype == "bfloat16")):
    out.append((f"jaxpose {other} forms", "jax", other))
  if have_torch and name == "hourglass":
    out.append(("torch " + ("bf16 autocast" if dtype == "bfloat16" else "fp32") + " ch_last",
                "torch", None))
  return out


def run_row(row, size, features, depth, have_torch, device, clock) -> dict:
  label, mode, stacks, batch, dtype, name = row
  result = {"row": label, "mode": mode, "model": name, "stacks": stacks, "batch": batch,
            "dtype": dtype, "size": size, "contenders": [], "skipped": []}
  runners, ref = {}, None
  for c_label, kind, forms in contenders(mode, dtype, name, have_torch):
    if clock.would_pass(FLAGS.budget_s):
      result["skipped"].append(c_label)
      continue
    t0 = time.perf_counter()
    if kind == "jax":
      r = JaxContender(config(stacks, features, size, dtype, forms, name, depth), mode, batch)
      ref = ref or r
    else:
      r = TorchContender(config(stacks, features, size, dtype, "auto", depth=depth), mode, batch,
                         ref.variables, jax.device_get(ref.inputs), device)
    r.run(1)
    clock.setup(time.perf_counter() - t0)
    runners[c_label] = r
  per_rep = {k: [] for k in runners}
  for _ in range(FLAGS.reps):
    for k, r in runners.items():
      r.run(FLAGS.warmup)
      per_rep[k].append(r.run(FLAGS.steps))
  peaks = clock.peaks
  for k, r in runners.items():
    s = statistics.median(per_rep[k])
    flops = r.flops if isinstance(r, JaxContender) else ref.flops
    peak = peaks["jnp bf16" if dtype == "bfloat16" else "jnp fp32"] * 1e12
    result["contenders"].append({
        "name": k, "ms_per_step": 1e3 * s, "images_per_s": batch / s,
        "per_rep_ms": [1e3 * t for t in per_rep[k]], "gflop_per_step": flops / 1e9,
        "tflop_per_s": flops / s / 1e12, "mfu": flops / s / peak, "peak_mib": r.memory_mib,
        "setup_s": r.compile_s, "first_loss_or_mean": r.first,
        "flops_from": "own XLA cost analysis" if isinstance(r, JaxContender)
                      else "jaxpose auto step's XLA cost analysis"})
  torch_names = [k for k in runners if k.startswith("torch")]
  result["ratios"] = {
      f"{j} / {t}": statistics.median(np.asarray(per_rep[t]) / np.asarray(per_rep[j]))
      for j in runners if j.startswith("jaxpose") for t in torch_names}
  return result


class Clock:
  """Time spent since the start, the slowest contender set-up seen (the estimate of the next
  one's), and the matmul peaks of this run."""

  def __init__(self):
    self.start, self.slowest, self.peaks = time.perf_counter(), 0.0, {}

  def setup(self, seconds: float):
    self.slowest = max(self.slowest, seconds)

  def elapsed(self) -> float:
    return time.perf_counter() - self.start

  def would_pass(self, budget: float) -> bool:
    return self.elapsed() + 1.5 * self.slowest > budget


def host_cores(results, per_core: float):
  best = max((c["images_per_s"] for r in results if r["mode"] == "train"
              for c in r["contenders"] if c["name"].startswith("jaxpose")), default=0.0)
  if per_core <= 0 or best <= 0:
    return {"per_core_images_per_s": per_core or None, "best_train_images_per_s": best or None,
            "cores": None}
  return {"per_core_images_per_s": per_core, "best_train_images_per_s": best,
          "cores": float(np.ceil(best / per_core))}


def markdown(report: dict) -> str:
  env = report["env"]
  lines = [f"# accelerator benchmark ({'smoke' if report['smoke'] else 'default set'})", "",
           f"device: {env['device']} | jax {env['jax']} ({env['backend']}) | flax {env['flax']}"
           f" | torch {env['torch'] or 'absent'} | elapsed {report['elapsed_s']:.0f} s", "",
           "precision: " + ", ".join(f"{k}={v}" for k, v in report["precision"].items()), "",
           "matmul peaks (TFLOP/s, this run): " + ", ".join(
               f"{k} {v:.1f}" for k, v in report["peaks"].items()), "",
           "| row | contender | ms/step | images/s | GFLOP/step | TFLOP/s | MFU | peak MiB | "
           "set-up s |", "|---|---|---|---|---|---|---|---|---|"]
  for r in report["rows"]:
    for c in r["contenders"]:
      lines.append(f"| {r['row']} | {c['name']} | {c['ms_per_step']:.2f} | "
                   f"{c['images_per_s']:.1f} | {c['gflop_per_step']:.1f} | "
                   f"{c['tflop_per_s']:.2f} | {100 * c['mfu']:.1f}% | {c['peak_mib']:.0f} | "
                   f"{c['setup_s']:.1f} |")
    for k, v in r["ratios"].items():
      lines.append(f"| {r['row']} | ratio {k} (images/s) | | {v:.2f}× | | | | | |")
    for k in r["skipped"]:
      lines.append(f"| {r['row']} | {k}: skipped (--budget_s) | | | | | | | |")
  h = report["host_cores"]
  lines += ["", (f"host cores for the input pipeline: {h['cores']:.0f} (best jaxpose train rate "
                 f"{h['best_train_images_per_s']:.1f} images/s ÷ {h['per_core_images_per_s']:.1f}"
                 " augmented, encoded 256² images/s per core)") if h["cores"] else
            "host cores for the input pipeline: not computed (--per_core_images_s not given)"]
  return "\n".join(lines) + "\n"


def main(_):
  clock = Clock()
  torch = torch_or_none()
  device = torch_device(torch) if torch is not None else None
  have_torch = device is not None
  if FLAGS.fp32_precision == "highest":
    jax.config.update("jax_default_matmul_precision", "highest")
    if torch is not None:
      torch.backends.cuda.matmul.allow_tf32 = False
      torch.backends.cudnn.allow_tf32 = False
  size, features, depth = (16, 8, 1) if FLAGS.smoke else (256, 256, 4)
  clock.peaks = matmul_peaks(256 if FLAGS.smoke else FLAGS.matmul_size,
                             torch if have_torch else None, device)
  results = []
  print(f"start-up and matmul peaks: {clock.elapsed():.1f} s", flush=True)
  for row in rows(FLAGS.smoke):
    r = run_row(row, size, features, depth, have_torch, device, clock)
    r["elapsed_s"] = clock.elapsed()
    results.append(r)
    for c in r["contenders"]:
      print(f"{r['row']:<24} {c['name']:<26} {c['ms_per_step']:9.2f} ms {c['images_per_s']:9.1f} "
            f"img/s {c['gflop_per_step']:9.1f} GFLOP {100 * c['mfu']:5.1f}% MFU "
            f"{c['peak_mib']:8.0f} MiB  set-up {c['setup_s']:.1f} s", flush=True)
    for k, v in r["ratios"].items():
      print(f"{r['row']:<24} {k}: {v:.2f}×", flush=True)
  dev = jax.devices()[0]
  stats = dev.memory_stats() if hasattr(dev, "memory_stats") else None
  report = {
      "smoke": FLAGS.smoke, "elapsed_s": clock.elapsed(), "budget_s": FLAGS.budget_s,
      "env": {"device": getattr(dev, "device_kind", str(dev)), "backend": jax.default_backend(),
              "jax": jax.__version__, "flax": __import__("flax").__version__,
              "torch": torch.__version__ if torch is not None else None,
              "torch_device": device, "cpus": os.cpu_count(),
              "device_peak_mib": (stats or {}).get("peak_bytes_in_use", 0) / 2 ** 20 or None},
      "precision": precision_state(torch), "peaks": clock.peaks,
      "timing": {"reps": FLAGS.reps, "warmup": FLAGS.warmup, "steps": FLAGS.steps},
      "rows": results, "host_cores": host_cores(results, FLAGS.per_core_images_s)}
  os.makedirs(FLAGS.out, exist_ok=True)
  with open(os.path.join(FLAGS.out, "accelerator.json"), "w") as f:
    json.dump(report, f, indent=1)
  text = markdown(report)
  with open(os.path.join(FLAGS.out, "accelerator.md"), "w") as f:
    f.write(text)
  print(text)


if __name__ == "__main__":
  app.run(main)
