"""Baseline-1 of Chen et al. (UCSD course report, §3.3.1): two conv + max-pool layers, then three
fully connected layers per head (the filter sizes, not in the text, are models/regressors.py's),
on 224-pixel crops: a coordinate regressor with a joint-visibility head on LSP at paper scale,
for an accelerator. configs/regressor_lsp.py holds the recipe the four regressors share (and
the choices the report leaves open), its ``two_phase`` the two runs of §3.3 and their commands:
``--config=configs/regressor_baseline1_lsp.py:1``, then ``:2`` from it.
"""
from jaxpose.configs import regressor_lsp


def get_config(phase="1"):
  return regressor_lsp.get_config(phase, name="regressor_baseline1_lsp", model="baseline1",
                                  image_size=224)
