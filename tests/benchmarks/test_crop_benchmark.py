"""benchmarks/crop.py (issue #37): the window crop and the whole-picture crop of a JPEG agree
(the script checks it) and both are timed, one line per box, the box filter named."""
import re
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_crop_benchmark_prints_one_line_per_box():
  p = subprocess.run([sys.executable, "benchmarks/crop.py", "--width=240", "--height=160",
                      "--boxes=60,300", "--size=32", "--calls=1", "--reps=1"],
                     cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert p.returncode == 0, p.stderr[-3000:]
  lines = [l for l in p.stdout.splitlines() if l.startswith("box")]
  assert len(lines) == 2, p.stdout
  assert "box filter 1×1" in lines[0] and "box filter 9×9" in lines[1]
  for line in lines:  # "box ... window 6.62 ms | whole picture decoded 9.95 ms | 1.50×"
    a, b, ratio = (float(v) for v in re.findall(r"(\d+\.\d+)", line))
    assert a > 0 and b > 0 and ratio == pytest.approx(b / a, abs=0.01)
