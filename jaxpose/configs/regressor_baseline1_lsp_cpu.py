"""Baseline-1 (configs/regressor_baseline1_lsp.py) in the reduced comparison of the four
regressors on a 2-core CPU (configs.regressor_cpu_budget: 112-pixel crops, 2,000 steps of batch
16 per phase); at its paper widths.
"""
from jaxpose import configs


def get_config(phase="1"):
  c = configs.regressor_lsp("regressor_baseline1_lsp_cpu", "baseline1", 112, phase)
  return configs.regressor_cpu_budget(c)
