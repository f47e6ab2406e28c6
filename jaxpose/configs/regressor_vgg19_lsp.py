"""VGG-19 of Chen et al. (UCSD course report, §3.3.4; configuration E of Simonyan & Zisserman
2014, without BatchNorm as the original), 224-pixel crops, on LSP at paper scale; the shared
recipe is configs/regressor_lsp.py, the two phases and their commands its ``two_phase``.
Simonyan & Zisserman initialised E from a shallower trained net (§3.1); should phase 1 here not
leave its start, add --config.model.batch_norm=True to both phases (BatchNorm after every convolution;
phase 2 keeps the phase-1 statistics).
"""
from jaxpose.configs import regressor_lsp


def get_config(phase="1"):
  return regressor_lsp.get_config(phase, name="regressor_vgg19_lsp", model="vgg19", image_size=224)
