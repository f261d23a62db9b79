"""MaxPooling2D, AveragePooling2D and the global poolings over NHWC images."""
import numpy as np

from .. import _fused_ops as fused_ops, _geometry, _norm_ops, ops
from .base import Layer
from .conv import check_channels_last

__all__ = ["MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D",
           "GlobalAveragePooling2D", "GlobalMaxPooling2D"]


class _Pooling2D(Layer):
    """Shared arguments and shape logic; subclasses name the two ops they run."""

    _op_names = None   # (forward, backward) names in fastcnn.ops

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        check_channels_last(data_format)
        self.pool_size = _geometry.pair(pool_size, "pool_size")
        self.strides = (self.pool_size if strides is None
                        else _geometry.pair(strides, "strides"))
        self.padding = _geometry.padding_mode(padding)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 4:
            raise ValueError(f'layer "{self.name}" needs NHWC inputs of rank 4 '
                             f"(batch, height, width, channels), got shape {input_shape}")
        geo = _geometry.output_geometry(input_shape[1:3], self.pool_size, self.strides,
                                        self.padding, "pool_size")
        return (input_shape[0], geo.out_h, geo.out_w, input_shape[3])

    def forward(self, inputs, state, training):
        state.x = inputs if training else None
        out = state.buffer("y", (inputs.shape[0],) + self.output_shape[1:], self.dtype)
        forward = getattr(ops, self._op_names[0])
        return forward(inputs, self.pool_size, self.strides, self.padding, out=out)

    def backward(self, dy, state, need_input_grad, grads):
        if not need_input_grad:
            return None
        out = state.buffer("dx", state.x.shape, self.dtype)
        backward = getattr(ops, self._op_names[1])
        return backward(dy, state.x, self.pool_size, self.strides, self.padding, out=out)

    def get_config(self):
        return dict(super().get_config(), pool_size=list(self.pool_size),
                    strides=list(self.strides), padding=self.padding)


class MaxPooling2D(_Pooling2D):
    """Maximum over ``pool_size`` windows moved by ``strides`` (default: ``pool_size``);
    ``"same"`` padding never returns a pad value."""

    _op_names = ("max_pool2d", "max_pool2d_backward")

    def forward(self, inputs, state, training):
        # Training: note where each maximum was found (picks, the output's size), so that the
        # backward pass reads dy and the picks, not the input (4x the output's size with 2x2
        # windows), and gives bitwise the same gradient.
        state.picks = None
        if not training or not self.records_picks:
            return super().forward(inputs, state, training)
        state.x, state.x_shape = None, inputs.shape
        shape = (inputs.shape[0],) + self.output_shape[1:]
        state.picks = state.buffer("picks", shape, self.dtype)
        return fused_ops.max_pool2d_picking(inputs, self.pool_size, self.strides, self.padding,
                                       state.buffer("y", shape, self.dtype), state.picks,
                                       False)

    @property
    def records_picks(self):
        """Whether a training forward records picks (windows of fewer than 2**24 taps)."""
        return self.pool_size[0] * self.pool_size[1] < fused_ops.PICKS_MAX_TAPS

    def backward(self, dy, state, need_input_grad, grads):
        if state.picks is None or not need_input_grad:
            return super().backward(dy, state, need_input_grad, grads)
        return fused_ops.max_pool2d_backward_picks(dy, state.picks, state.x_shape, self.pool_size,
                                              self.strides, self.padding,
                                              state.buffer("dx", state.x_shape, self.dtype))


class AveragePooling2D(_Pooling2D):
    """Mean over ``pool_size`` windows moved by ``strides`` (default: ``pool_size``);
    ``"same"`` padding divides by the number of real inputs in each window."""

    _op_names = ("avg_pool2d", "avg_pool2d_backward")


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


class _GlobalPooling2D(Layer):
    """Shared arguments and shapes of the global poolings: (N, H, W, C) -> (N, C), or
    (N, 1, 1, C) with ``keepdims``."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        check_channels_last(data_format)
        if not isinstance(keepdims, bool):
            raise TypeError(f"keepdims must be a bool, got {keepdims!r}")
        self.keepdims = keepdims

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 4:
            raise ValueError(f'layer "{self.name}" needs NHWC inputs of rank 4 '
                             f"(batch, height, width, channels), got shape {input_shape}")
        n, _, _, c = input_shape
        return (n, 1, 1, c) if self.keepdims else (n, c)

    def get_config(self):
        return dict(super().get_config(), keepdims=self.keepdims)


class GlobalAveragePooling2D(_GlobalPooling2D):
    """The mean of each channel over the image."""

    def forward(self, inputs, state, training):
        state.x_shape = inputs.shape
        out = state.buffer("y", (inputs.shape[0],) + self.output_shape[1:], self.dtype)
        _norm_ops.global_avg_pool2d(inputs, out=out.reshape(inputs.shape[0], -1))
        return out

    def backward(self, dy, state, need_input_grad, grads):
        if not need_input_grad:
            return None
        return _norm_ops.global_avg_pool2d_backward(
            dy.reshape(dy.shape[0], -1), state.x_shape,
            out=state.buffer("dx", state.x_shape, self.dtype))


class GlobalMaxPooling2D(_GlobalPooling2D):
    """The maximum of each channel over the image; the gradient goes to the first maximum
    (row-major), and a channel holding a NaN gives NaN, as in max pooling."""

    def forward(self, inputs, state, training):
        n = inputs.shape[0]
        state.x_shape = inputs.shape
        state.picks = state.buffer("picks", (n, inputs.shape[3]), np.intp) if training else None
        out = state.buffer("y", (n,) + self.output_shape[1:], self.dtype)
        _norm_ops.global_max_pool2d(inputs, out=out.reshape(n, -1), picks=state.picks)
        return out

    def backward(self, dy, state, need_input_grad, grads):
        if not need_input_grad:
            return None
        return _norm_ops.global_max_pool2d_backward(
            dy.reshape(dy.shape[0], -1), picks=state.picks, x_shape=state.x_shape,
            out=state.buffer("dx", state.x_shape, self.dtype))
