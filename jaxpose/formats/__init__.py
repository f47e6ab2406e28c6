"""File formats and errors that both bottom layers, ``jaxpose.data`` and ``jaxpose.evaluation``,
need: the one place they meet, so that neither imports the other.

Modules here import only numpy, scipy, h5py and ``jaxpose.skeleton`` — never ``jaxpose.data``,
``jaxpose.evaluation`` or tf. ``errors``: ``DataError`` (bad input data) and ``FormatError``;
``mpii``: the official MPII evaluation files (``gt_valid.mat``, ``preds`` .mat/.h5).
"""
