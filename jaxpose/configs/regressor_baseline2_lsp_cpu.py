"""Baseline-2 (configs/regressor_baseline2_lsp.py) in the reduced CPU comparison
(``common.regressor_cpu_budget``); at its paper widths.
"""
from jaxpose.configs import common, regressor_lsp


def get_config(phase="1"):
  c = regressor_lsp.get_config(phase, name="regressor_baseline2_lsp_cpu", model="baseline2",
                               image_size=112)
  return common.regressor_cpu_budget(c)
