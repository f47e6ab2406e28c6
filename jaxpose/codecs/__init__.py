"""Target codecs: joints in the crop ⇄ what a model is trained on / predicts.

* ``heatmap``      — Gaussian heatmaps and pyramids (encode, tf) and argmax decoding with
                     the quarter-pixel shift, flip-test merge, crop/image mapping (numpy/jax).
* ``coords``       — normalised coordinates in [0, 1] for the regression family.
* ``part_windows`` — the sliding-window part indicator maps of Li et al. 2014 §3.2 eq. (2).
* ``cascade``      — DeepPose's refining stages (Toshev & Szegedy 2014 §3): box normalisation,
                     sub-image boxes and crops, refinement, the simulated-error model.

Encoders are tf (they run per example inside ``tf.data``); decoders are numpy and also
accept jax arrays. Importing this package does not import tensorflow: the tf encoders
import it lazily, so model-only users stay tf-free.
"""
from jaxpose.codecs import cascade, coords, heatmap, part_windows

__all__ = ["cascade", "coords", "heatmap", "part_windows"]
