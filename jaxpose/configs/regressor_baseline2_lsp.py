"""Baseline-2 of Chen et al. (UCSD course report, §3.3.2): Baseline-1 with a third conv +
max-pool layer, 224-pixel crops, on LSP at paper scale; the shared recipe is
configs/regressor_lsp.py, the two phases and their commands its ``two_phase``.
"""
from jaxpose.configs import regressor_lsp


def get_config(phase="1"):
  return regressor_lsp.get_config(phase, name="regressor_baseline2_lsp", model="baseline2",
                                  image_size=224)
