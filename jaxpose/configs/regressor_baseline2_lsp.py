"""Baseline-2 of Chen et al. (UCSD course report, §3.3.2): Baseline-1 with a third conv +
max-pool layer, 224-pixel crops, on LSP at paper scale; the shared recipe is
configs.regressor_lsp, the two phases and their commands configs.two_phase.
"""
from jaxpose import configs


def get_config(phase="1"):
  return configs.regressor_lsp("regressor_baseline2_lsp", "baseline2", 224, phase)
