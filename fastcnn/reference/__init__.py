"""Pure NumPy oracles for the kernels of ``fastcnn.ops`` and of the layers.

These functions define what the compiled kernels must compute; the compiled code never calls
them. They are written to be read, not to be fast, though memory stays within a few times
input + output (no whole-kernel im2col matrix is built):

- :mod:`.conv`: ``conv2d``, ``conv2d_backward`` (one GEMM per kernel row);
- :mod:`.pool`: ``max_pool2d``, ``avg_pool2d`` and their backward passes (a loop over the taps
  of the window), ``global_avg_pool2d``, ``global_max_pool2d`` and theirs;
- :mod:`.norm`: ``batch_norm_forward`` (training or inference), ``batch_norm_backward``
  (training), ``batch_norm_moments``;
- :mod:`.augment`: the image transforms of the augmentation layers (flips, crops,
  translations, the bilinear resize of a box) and their gradients, with the random
  parameters given.

Conventions (API.md):
- Images are NHWC ``(N, H, W, C)``; convolution kernels are HWIO ``(KH, KW, C, F)``; bias ``(F,)``.
- ``strides`` / ``pool_size`` are an int or a pair; ``padding`` is "valid" or "same"
  (case-insensitive), with the geometry of :mod:`fastcnn._geometry`, shared with ``ops``.
- Pooling ``strides=None`` means ``strides = pool_size``.
- Batch normalization works over the last axis of an array of rank >= 2.
- Computation happens in the dtype NumPy's promotion gives the float inputs, which is the input
  dtype when all inputs share one (float32 in gives float32 out, float64 gives float64). Unlike
  ``ops``, mixed dtypes are accepted; integer or boolean inputs are computed in float64.
- N == 0 is allowed and returns empty arrays of the right shape.
- Inputs are never modified.

NaN and infinities (``fastcnn.ops`` follows these rules; tests/test_ops_fuzz.py checks it):
- Convolution, average pooling (windowed and global) and batch normalization apply plain IEEE
  arithmetic: a NaN (or an inf times zero) anywhere in a window makes that output NaN, and
  gradients follow the same arithmetic over exactly the terms of their definition. Zero
  padding is part of the window: with "same" padding, an infinite weight times a padded zero
  makes a border output (and the matching ``dw`` terms) NaN. ``dx`` sums only over real
  outputs: a position of ``dy`` outside the output is not a zero term, so an infinite weight
  never meets one.
- Max pooling (windowed and global), rule "NaN wins": if any real (unpadded) element of a
  window is NaN, the output is NaN and the backward pass sends that output's gradient to the
  FIRST NaN of the window in row-major order. Otherwise the output is the window's maximum and
  the gradient goes to the first maximal element in row-major order (ties go to the earliest).
  Padded positions never take part: with "same" padding an all-negative (or all ``-inf``)
  window returns its real maximum, never a pad value, and never routes a gradient to a pad.
"""
from .conv import conv2d, conv2d_backward
from .norm import batch_norm_backward, batch_norm_forward, batch_norm_moments
from .pool import (avg_pool2d, avg_pool2d_backward, global_avg_pool2d,
                   global_avg_pool2d_backward, global_max_pool2d, global_max_pool2d_backward,
                   max_pool2d, max_pool2d_backward)

__all__ = [
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "global_avg_pool2d",
    "global_avg_pool2d_backward",
    "global_max_pool2d",
    "global_max_pool2d_backward",
    "batch_norm_forward",
    "batch_norm_backward",
    "batch_norm_moments",
]
