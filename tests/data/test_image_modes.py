"""Every PIL mode becomes 8-bit RGB by its value range, never saturated, through the one
function (``formats.images.to_rgb8``) that predict and the training builders share (#39)."""
import io
import os

import numpy as np
import pytest
from PIL import Image

MODES = ("1", "L", "P", "PA", "LA", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB",
         "HSV", "I", "F", "I;16", "I;16B", "I;16L")


def _ramp16() -> np.ndarray:
  return (np.arange(48 * 40).reshape(48, 40) * 27).astype(np.uint16)  # 0 … 51813


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_gives_uint8_rgb(mode):
  from jaxpose.formats.images import to_rgb8
  rng = np.random.default_rng(0)
  grey = rng.integers(0, 256, (12, 10), dtype=np.uint8)
  if mode.startswith("I;16"):
    raw = (grey.astype(np.uint16) * 257).astype(">u2" if mode == "I;16B" else "<u2")
    im = Image.frombytes(mode, (10, 12), raw.tobytes())
  elif mode in ("RGBa", "LAB", "HSV"):  # Pillow converts to these from RGB(A) only
    im = Image.fromarray(grey, "L").convert("RGBA" if mode == "RGBa" else "RGB").convert(mode)
  else:
    im = Image.fromarray(grey, "L").convert(mode)
  out = to_rgb8(im, "x.png")
  assert out.shape == (12, 10, 3) and out.dtype == np.uint8
  if mode in ("L", "P", "RGB", "RGBX", "I;16", "I;16B", "I;16L", "LA", "PA", "RGBA"):
    np.testing.assert_array_equal(out[..., 0], grey)  # grey levels kept, not stretched


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I;16L"])
def test_sixteen_bit_scales_by_the_full_range(mode):
  from jaxpose.formats.images import to_rgb8
  v = _ramp16()
  im = Image.frombytes(mode, (40, 48), v.astype(">u2" if mode == "I;16B" else "<u2").tobytes())
  out = to_rgb8(im)
  np.testing.assert_array_equal(out[..., 1], np.rint(v * (255 / 65535)).astype(np.uint8))
  assert out.max() == round(51813 * 255 / 65535) < 255  # not saturated, not stretched


def test_a_sixteen_bit_png_is_predicted_on_its_real_pixels(tmp_path):
  """The issue's case: a 16-bit greyscale PNG used to come out all white."""
  from jaxpose import crops
  path = str(tmp_path / "grey16.png")
  Image.fromarray(_ramp16()).save(path)
  rgb = crops.read_image(path)
  assert rgb.dtype == np.uint8 and 0 < rgb.mean() < 200 and (rgb == 255).mean() < 0.01
  np.testing.assert_array_equal(rgb[..., 0], np.rint(_ramp16() * (255 / 65535)))


def test_int_and_float_images_by_their_range():
  from jaxpose.formats.images import to_rgb8
  big = Image.fromarray(np.array([[-1000, 0], [500, 3000]], np.int32), "I")
  np.testing.assert_array_equal(to_rgb8(big)[..., 0], [[0, 64], [96, 255]])  # min … max
  small = Image.fromarray(np.array([[0, 65535]], np.int32), "I")
  np.testing.assert_array_equal(to_rgb8(small)[..., 0], [[0, 255]])  # a 16-bit PNG as "I"
  unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), "F")
  np.testing.assert_array_equal(to_rgb8(unit)[..., 0], [[0, 128, 255]])
  wide = Image.fromarray(np.array([[-2.0, 0.0, 2.0]], np.float32), "F")
  np.testing.assert_array_equal(to_rgb8(wide)[..., 0], [[0, 128, 255]])
  np.testing.assert_array_equal(to_rgb8(np.array([[0, 65535]], np.uint16))[..., 2], [[0, 255]])


@pytest.mark.parametrize("bad, match", [
    (lambda: Image.new("La", (3, 2)), "bad.png: cannot convert its La pixels to RGB"),
    (lambda: Image.fromarray(np.array([[0.0, np.nan]], np.float32), "F"), "bad.png: .*NaN"),
    (lambda: np.zeros((4, 4, 5), np.uint8), r"bad.png: image of shape \(4, 4, 5\)"),
    (lambda: np.zeros((0, 4), np.uint8), r"bad.png: image of shape"),
    (lambda: np.zeros((2, 2), np.complex64), "bad.png: image values of type complex64"),
])
def test_what_cannot_be_converted_is_refused_by_name(bad, match):
  from jaxpose.errors import DataError
  from jaxpose.formats.images import to_rgb8
  with pytest.raises(DataError, match=match):
    to_rgb8(bad(), "bad.png")


def test_read_image_refuses_an_unconvertible_file_by_name(tmp_path):
  from jaxpose import crops
  path = str(tmp_path / "nan.tif")
  Image.fromarray(np.array([[0.0, np.inf]], np.float32), "F").save(path)
  with pytest.raises(crops.ImageError, match=f"{path}: image holds NaN or inf"):
    crops.read_image(path)


def test_training_stores_the_same_pixels_as_predict_reads(tmp_path, monkeypatch):
  """The builder's ``to_example`` re-encodes a 16-bit PNG through the same function; the
  pipeline's ``tf.io.decode_image`` then sees exactly what ``crops.read_image`` gives."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  import tensorflow as tf
  from jaxpose import crops
  from jaxpose.data.builders import base
  from jaxpose.data.records import PoseRecord
  path = str(tmp_path / "grey16.png")
  Image.fromarray(_ramp16()).save(path)
  joints = np.array([[5.0, 6.0, 1.0], [30.0, 40.0, 1.0]], np.float32)
  record = PoseRecord(image=path, joints=joints, valid=np.ones(2, np.float32),
                      center=np.array([20.0, 24.0], np.float32), scale=0.3, norm=10.0,
                      head_box=np.zeros(4, np.float32), index=0, name="grey16.png")
  example = base.to_example(record, "test/train")
  assert isinstance(example["image"], bytes)
  decoded = tf.io.decode_image(example["image"], channels=3, expand_animations=False).numpy()
  np.testing.assert_array_equal(decoded, crops.read_image(path))
  # a plain 8-bit JPEG is stored as it is
  jpg = str(tmp_path / "plain.jpg")
  Image.fromarray(np.zeros((48, 40, 3), np.uint8)).save(jpg)
  record.image = jpg
  assert base.to_example(record, "test/train")["image"] == jpg
