"""The convolution's backward pass on XLA's CPU backend: jax's own rule against
``jaxpose.models.layers.conv_nhwc`` (the hand-written input and kernel gradients every family uses).

  python benchmarks/conv_grad.py                     # the 3×3 / 7×7 shapes of the 2×256 hourglass
  python benchmarks/conv_grad.py --batch=4 --reps=5 --dtype=bfloat16

For each shape it times, alternating the two implementations rep by rep, the forward pass, the
input gradient and the kernel gradient (each jitted alone, median of ``--reps``), and prints ms and
GFLOP/s (2·B·H'·W'·k²·C·O per pass).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jaxpose import runtime  # noqa: E402

runtime.configure(reexec=True)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from jaxpose.models import layers  # noqa: E402

flags.DEFINE_integer("batch", 4, "Batch size.")
flags.DEFINE_integer("reps", 5, "Timed repetitions per pass (alternated between implementations).")
flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16"], "Operand dtype.")
FLAGS = flags.FLAGS

_DN = ("NHWC", "HWIO", "NHWC")
# (H, C_in, C_out, kernel, stride): the hourglass's stem and its 3×3 convolutions per resolution
SHAPES = ((256, 3, 64, 7, 2), (128, 64, 64, 3, 1), (64, 128, 128, 3, 1), (32, 128, 128, 3, 1),
          (16, 128, 128, 3, 1), (8, 128, 128, 3, 1))


def passes(conv, x, k):
  """Jitted forward, input-gradient and kernel-gradient functions of ``conv``."""
  y = jax.eval_shape(conv, x, k)
  g = jnp.ones(y.shape, jnp.float32)
  return {"forward": jax.jit(conv),
          "input grad": jax.jit(lambda x, k: jax.vjp(lambda a: conv(a, k), x)[1](g)[0]),
          "kernel grad": jax.jit(lambda x, k: jax.vjp(lambda b: conv(x, b), k)[1](g)[0])}


def main(_):
  dtype = jnp.dtype(FLAGS.dtype)
  acc = layers.accumulation_dtype(jnp.zeros((), dtype))
  print(f"jax {jax.__version__}, {jax.devices()[0].device_kind}, batch {FLAGS.batch}, {FLAGS.dtype}")
  print(f"{'shape':>26} {'pass':>12} {'jax rule ms':>12} {'jaxpose ms':>11} {'jax GF/s':>9} "
        f"{'jaxpose GF/s':>13} {'speed-up':>9}")
  totals = {"jax": 0.0, "jaxpose": 0.0}
  rng = np.random.default_rng(0)
  for h, cin, cout, ksize, stride in SHAPES:
    p = ksize // 2
    x = jnp.asarray(rng.normal(size=(FLAGS.batch, h, h, cin)), dtype)
    k = jnp.asarray(rng.normal(size=(ksize, ksize, cin, cout)) * 0.1, dtype)
    impls = {
        "jax": lambda x, k: jax.lax.conv_general_dilated(
            x, k, (stride, stride), ((p, p), (p, p)), dimension_numbers=_DN,
            preferred_element_type=acc),
        "jaxpose": lambda x, k: layers.conv_general_dilated(
            x, k, (stride, stride), ((p, p), (p, p)), dimension_numbers=_DN)}
    fns = {name: passes(f, x, k) for name, f in impls.items()}
    ho = h // stride
    flop = 2 * FLAGS.batch * ho * ho * ksize * ksize * cin * cout
    for pname in ("forward", "input grad", "kernel grad"):
      times = {name: [] for name in fns}
      for name in fns:
        jax.block_until_ready(fns[name][pname](x, k))
      for _ in range(FLAGS.reps):
        for name in fns:
          t = time.perf_counter()
          jax.block_until_ready(fns[name][pname](x, k))
          times[name].append(time.perf_counter() - t)
      med = {name: float(np.median(t)) for name, t in times.items()}
      for name in med:
        totals[name] += med[name]
      shape = f"{FLAGS.batch}x{h}x{h}x{cin}->{cout} {ksize}x{ksize}/{stride}"
      print(f"{shape:>26} {pname:>12} {med['jax'] * 1e3:12.1f} {med['jaxpose'] * 1e3:11.1f} "
            f"{flop / med['jax'] / 1e9:9.1f} {flop / med['jaxpose'] / 1e9:13.1f} "
            f"{med['jax'] / med['jaxpose']:8.2f}x")
  print(f"all shapes, forward + both gradients: jax rule {totals['jax'] * 1e3:.0f} ms, jaxpose "
        f"{totals['jaxpose'] * 1e3:.0f} ms ({totals['jax'] / totals['jaxpose']:.2f}x)")


if __name__ == "__main__":
  app.run(main)
