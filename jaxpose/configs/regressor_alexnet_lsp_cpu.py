"""The non-separated AlexNet (configs/regressor_alexnet_lsp.py) in the reduced CPU comparison
(``common.regressor_cpu_budget``): conv1 at stride 2 (``stem_stride``), so that at 112 px the maps
shrink to 2×2 before fc1 as at the paper's 227 px with stride 4; a quarter of the filters (24 …
64) and 1,024-wide fully connected layers. The slowest of the four here (XLA's CPU gradient of
the 11×11 convolution, and the LRN): about 20 minutes for phase 1, 6 for phase 2.
"""
from jaxpose.configs import common, regressor_lsp


def get_config(phase="1"):
  c = regressor_lsp.get_config(phase, name="regressor_alexnet_lsp_cpu", model="alexnet",
                               image_size=112, stem_stride=2, width_mult=0.25,
                               fc_features=(1024, 1024))
  return common.regressor_cpu_budget(c)
