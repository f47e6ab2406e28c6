"""The non-separated AlexNet of Chen et al. (UCSD course report, §3.3.3): Krizhevsky's network as
one tower, with an extra max-pooling after conv4, at its 227-pixel input, on LSP at paper scale;
the shared recipe (SGD settings from Krizhevsky et al. 2012 §5) is configs/regressor_lsp.py, the
two phases and their commands its ``two_phase``.
"""
from jaxpose.configs import regressor_lsp


def get_config(phase="1"):
  return regressor_lsp.get_config(phase, name="regressor_alexnet_lsp", model="alexnet",
                                  image_size=227)
