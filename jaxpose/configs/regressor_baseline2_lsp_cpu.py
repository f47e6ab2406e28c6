"""Baseline-2 (configs/regressor_baseline2_lsp.py) in the reduced CPU comparison
(configs.regressor_cpu_budget); at its paper widths.
"""
from jaxpose import configs


def get_config(phase="1"):
  c = configs.regressor_lsp("regressor_baseline2_lsp_cpu", "baseline2", 112, phase)
  return configs.regressor_cpu_budget(c)
