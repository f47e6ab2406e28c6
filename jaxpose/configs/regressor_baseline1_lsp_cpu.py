"""Baseline-1 (configs/regressor_baseline1_lsp.py) in the reduced comparison of the four
regressors on a 2-core CPU (``common.regressor_cpu_budget``: 112-pixel crops, 2,000 steps of batch
16 per phase); at its paper widths.
"""
from jaxpose.configs import common, regressor_lsp


def get_config(phase="1"):
  c = regressor_lsp.get_config(phase, name="regressor_baseline1_lsp_cpu", model="baseline1",
                               image_size=112)
  return common.regressor_cpu_budget(c)
