"""The non-separated AlexNet of Chen et al. (UCSD course report, §3.3.3): Krizhevsky's network as
one tower, with an extra max-pooling after conv4, at its 227-pixel input, on LSP at paper scale;
the shared recipe (SGD settings from Krizhevsky et al. 2012 §5) is configs.regressor_lsp, the two
phases and their commands configs.two_phase.
"""
from jaxpose import configs


def get_config(phase="1"):
  return configs.regressor_lsp("regressor_alexnet_lsp", "alexnet", 227, phase)
