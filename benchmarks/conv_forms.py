"""The 3×3 convolution's forward pass in six forms on XLA's CPU backend, alternated rep by rep:
XLA's convolution (what ``layers.conv_nhwc`` runs in float32), the sum of nine per-tap matmuls over
shifted windows, im2col (the nine windows side by side, one matmul), the three row shifts of a
three-tap-wide input (three matmuls; what ``layers._conv_rows`` runs in bf16), "outtaps" (one
(N, C) × (C, 9·O) matmul, then the sum of nine shifted slices of its output) and "flat" (nine
taps on contiguous offsets of the flattened padded input, no window copies). Issue #20 asked whether a matmul form reaches the matrix
rate where XLA's convolution does not; this prints each form's GFLOP/s and its speed relative to
XLA's for the hourglasses' shapes.

  python benchmarks/conv_forms.py --reps=5
  python benchmarks/conv_forms.py --reps=5 --dtype=bfloat16   # bf16 operands, float32 accumulation

``--dtype=bfloat16`` feeds every form bf16 operands with ``preferred_element_type=float32``
(jaxpose's mixed precision, jaxpose.models.layers "Precision"): on a CPU with AMX / AVX-512 BF16
that is what reaches the bf16 matrix units from a dot; the line above the table gives the
machine's 2048² matmul rate in that dtype.
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
from jax import lax  # noqa: E402

flags.DEFINE_integer("reps", 5, "Timed repetitions per form (alternated between the forms).")
flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16"], "Operand dtype (float32 accumulation).")
FLAGS = flags.FLAGS

# (batch, height, width, in, out): the 2×256 hourglass's 3×3 shapes at batch 4 and the default
# config's at batch 8
SHAPES = [(4, 64, 64, 128, 128), (4, 32, 32, 128, 128), (4, 16, 16, 128, 128),
          (8, 64, 64, 64, 64), (8, 32, 32, 32, 32), (8, 16, 16, 32, 32)]


def _padded(x):
  return jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))


def _dot(a, b):
  return jnp.dot(a, b, preferred_element_type=jnp.float32)


def xla(x, k):
  return lax.conv_general_dilated(x, k, (1, 1), ((1, 1), (1, 1)),
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                  preferred_element_type=jnp.float32)


def taps(x, k):
  b, h, w, c = x.shape
  xp = _padded(x)
  out = sum(_dot(xp[:, i:i + h, j:j + w].reshape(-1, c), k[i, j])
            for i in range(3) for j in range(3))
  return out.reshape(b, h, w, -1)


def im2col(x, k):
  b, h, w, c = x.shape
  xp = _padded(x)
  cols = jnp.concatenate([xp[:, i:i + h, j:j + w] for i in range(3) for j in range(3)], -1)
  return _dot(cols.reshape(-1, 9 * c), k.reshape(9 * c, -1)).reshape(b, h, w, -1)


def rows(x, k):
  b, h, w, c = x.shape
  xp = _padded(x)
  wide = jnp.concatenate([xp[:, :, j:j + w] for j in range(3)], -1)  # (b, h + 2, w, 3c)
  out = sum(_dot(wide[:, i:i + h].reshape(-1, 3 * c), k[i].reshape(3 * c, -1))
            for i in range(3))
  return out.reshape(b, h, w, -1)


def outtaps(x, k):
  b, h, w, c = x.shape
  o = k.shape[-1]
  y = _dot(x.reshape(-1, c), k.transpose(2, 0, 1, 3).reshape(c, 9 * o)).reshape(b, h, w, 3, 3, o)
  yp = _padded(y.reshape(b, h, w, 9 * o)).reshape(b, h + 2, w + 2, 3, 3, o)
  return sum(yp[:, i:i + h, j:j + w, i, j] for i in range(3) for j in range(3))


def flat(x, k):
  b, h, w, c = x.shape
  xf = jnp.pad(x, ((0, 0), (1, 2), (1, 1), (0, 0))).reshape(b, (h + 3) * (w + 2), c)
  n = h * (w + 2)
  out = sum(_dot(xf[:, i * (w + 2) + j:i * (w + 2) + j + n], k[i, j])
            for i in range(3) for j in range(3))
  return out.reshape(b, h, w + 2, -1)[:, :, :w]


FORMS = dict(xla=xla, taps=taps, im2col=im2col, rows=rows, outtaps=outtaps, flat=flat)


def main(argv):
  del argv
  dtype = jnp.dtype(FLAGS.dtype)
  a = jnp.ones((2048, 2048), dtype)
  mm = jax.jit(lambda a: _dot(a, a))
  mm(a).block_until_ready()
  t = time.perf_counter()
  for _ in range(10):
    y = mm(a)
  y.block_until_ready()
  print(f"2048² {FLAGS.dtype} matmul (float32 accumulation): {10 * 2 * 2048 ** 3 / (time.perf_counter() - t) / 1e9:.0f} GFLOP/s")
  for b, h, w, c, o in SHAPES:
    x = jax.random.normal(jax.random.PRNGKey(0), (b, h, w, c)).astype(dtype)
    k = (jax.random.normal(jax.random.PRNGKey(1), (3, 3, c, o)) * 0.1).astype(dtype)
    jitted = {n: jax.jit(f) for n, f in FORMS.items()}
    ref = np.asarray(jitted["xla"](x, k))
    for f in jitted.values():  # the forms agree before any is timed
      np.testing.assert_allclose(np.asarray(f(x, k)), ref, rtol=1e-2, atol=1e-2)
    flops = 2 * b * h * w * c * o * 9
    inner = max(1, int(2e9 / flops))
    times = {n: [] for n in jitted}
    for _ in range(FLAGS.reps):
      for n, f in jitted.items():
        t = time.perf_counter()
        for _ in range(inner):
          y = f(x, k)
        y.block_until_ready()
        times[n].append((time.perf_counter() - t) / inner)
    base = np.median(times["xla"])
    print(f"{b}×{h}×{w}×{c} → {o}: " + "  ".join(
        f"{n} {flops / np.median(t) / 1e9:.0f} GFLOP/s ({base / np.median(t):.2f}×)"
        for n, t in times.items()), flush=True)


if __name__ == "__main__":
  app.run(main)
