"""One training crop from a JPEG, per example: ``augment.warp`` given the file's bytes (decodes,
converts and box-downsamples only the window the crop reads) against the whole picture decoded
first and cropped (what the pipeline did before issue #37), side by side in one process.

  python benchmarks/crop.py                       # 1280×720 picture, 256² crops, three box sizes
  python benchmarks/crop.py --width=3000 --height=2000 --boxes=300,900 --size=256

The picture is a smooth random photograph-like image (JPEG quality 90); each box is a square
person box of that many image pixels about a point left of the centre; one call = decode +
crop, run as a ``tf.function`` (as tf.data runs it), best of ``--reps`` means of ``--calls``.
"""
import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_integer("width", 1280, "Picture width.")
flags.DEFINE_integer("height", 720, "Picture height.")
flags.DEFINE_list("boxes", ["300", "500", "700"], "Person box sides in image pixels.")
flags.DEFINE_integer("size", 256, "Crop side.")
flags.DEFINE_integer("calls", 20, "Calls per timed repetition.")
flags.DEFINE_integer("reps", 5, "Repetitions (the best is reported).")
FLAGS = flags.FLAGS


def picture(height: int, width: int) -> bytes:
  from PIL import Image
  rng = np.random.default_rng(0)
  small = rng.integers(0, 256, (max(2, height // 8), max(2, width // 8), 3)).astype(np.uint8)
  big = np.asarray(Image.fromarray(small).resize((width, height), Image.BICUBIC), np.float32)
  big = np.clip(big + rng.normal(0, 6, big.shape), 0, 255).astype(np.uint8)
  buf = io.BytesIO()
  Image.fromarray(big).save(buf, "JPEG", quality=90)
  return buf.getvalue()


def best_ms(fn, x) -> float:
  fn(x)
  best = float("inf")
  for _ in range(FLAGS.reps):
    t0 = time.perf_counter()
    for _ in range(FLAGS.calls):
      fn(x).numpy()
    best = min(best, (time.perf_counter() - t0) / FLAGS.calls * 1e3)
  return best


def main(argv):
  del argv
  import tensorflow as tf
  from jaxpose.codecs import geometry
  from jaxpose.data import augment
  jpeg = tf.constant(picture(FLAGS.height, FLAGS.width))
  size = int(FLAGS.size)
  center = tf.constant([FLAGS.width * 0.45, FLAGS.height * 0.5], tf.float32)
  print(f"{FLAGS.width}×{FLAGS.height} JPEG, {size}² crops, ms per crop (best of {FLAGS.reps} "
        f"× {FLAGS.calls})")
  for side in (float(b) for b in FLAGS.boxes):
    m = geometry.crop_matrix_tf(center, tf.constant(side / 200.0 / 1.25), size, None, 1.25)
    window = tf.function(lambda b, m=m: augment.warp(b, m, size))
    whole = tf.function(lambda b, m=m: augment.warp(
        tf.io.decode_image(b, channels=3, expand_animations=False), m, size))
    np.testing.assert_allclose(window(jpeg).numpy(), whole(jpeg).numpy(), atol=0.03)
    a, b = best_ms(window, jpeg), best_ms(whole, jpeg)
    factor = max(int(side / size), 1)
    print(f"box {side:5.0f} px (box filter {factor}×{factor}): window {a:6.2f} ms | "
          f"whole picture decoded {b:6.2f} ms | {b / a:.2f}×", flush=True)


if __name__ == "__main__":
  app.run(main)
