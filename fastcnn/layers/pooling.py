"""MaxPooling2D and AveragePooling2D over NHWC images, through ``fastcnn.ops``."""
from .. import _geometry, ops
from .base import Layer
from .conv import check_channels_last

__all__ = ["MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D"]


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
        self._x = None

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f'layer "{self.name}" needs NHWC inputs of rank 4 '
                             f"(batch, height, width, channels), got shape {input_shape}")

    def compute_output_shape(self, input_shape):
        geo = _geometry.output_geometry(input_shape[1:3], self.pool_size, self.strides,
                                        self.padding, "pool_size")
        return (input_shape[0], geo.out_h, geo.out_w, input_shape[3])

    def call(self, inputs, training=False):
        self._x = inputs if training else None
        forward = getattr(ops, self._op_names[0])
        out = self._buffer("y", (inputs.shape[0],) + self.output_shape[1:])
        return forward(inputs, self.pool_size, self.strides, self.padding, out=out)

    def _backward(self, dy, need_input_grad):
        if not need_input_grad:
            return None
        out = self._buffer("dx", self._x.shape)
        if self.masks_relu_input:
            return ops._max_pool2d_backward(dy, self._x, self.pool_size, self.strides,
                                            self.padding, out, relu_input=True)
        backward = getattr(ops, self._op_names[1])
        return backward(dy, self._x, self.pool_size, self.strides, self.padding, out=out)

    # only MaxPooling2D ever sets it (see its __init__)
    masks_relu_input = False

    def get_config(self):
        return dict(super().get_config(), pool_size=list(self.pool_size),
                    strides=list(self.strides), padding=self.padding)


class MaxPooling2D(_Pooling2D):
    """Maximum over ``pool_size`` windows moved by ``strides`` (default: ``pool_size``);
    ``"same"`` padding never returns a pad value."""

    _op_names = ("max_pool2d", "max_pool2d_backward")

    def call(self, inputs, training=False):
        # Training: note where each maximum was found (picks, the output's size), so that the
        # backward pass reads dy and the picks, not the input (4x the output's size with 2x2
        # windows), and gives bitwise the same gradient.
        self._picks = None
        if not training or self.pool_size[0] * self.pool_size[1] >= ops._PICKS_MAX_TAPS:
            return super().call(inputs, training)
        self._x, self._x_shape = inputs, inputs.shape
        shape = (inputs.shape[0],) + self.output_shape[1:]
        picks = self._buffer("picks", shape)
        out = ops._max_pool2d_picking(inputs, self.pool_size, self.strides, self.padding,
                                      self._buffer("y", shape), picks, self.masks_relu_input)
        self._picks = (picks, self.masks_relu_input)
        return out

    def _call_after_conv(self, conv, inputs):
        """Training inside a model, after ``conv`` (a built Conv2D with ReLU, whose backward
        pass this layer does): both layers' forward passes at once, the convolution's output
        pooled image by image while still in cache, never written out (it is needed neither
        here, the backward pass reading the picks, nor by ``conv``, whose ReLU's backward is
        done here). Returns this layer's output, or None (nothing done) where the fused kernel
        does not apply; the two layers are then called one after the other."""
        x = conv.prepare_input(inputs)
        shape = (x.shape[0],) + self.output_shape[1:]
        picks = self._buffer("picks", shape)
        out = ops._conv2d_relu_max_pool2d_picking(
            x, conv.kernel, conv.bias if conv.use_bias else None, conv.strides, conv.padding,
            self.pool_size, self.strides, self.padding, self._buffer("y", shape), picks)
        if out is None:
            return None
        conv._x, conv._fused, conv._output = x, False, None
        self._x, self._x_shape = None, (x.shape[0],) + conv.output_shape[1:]
        self._picks = (picks, True)
        return out

    def _backward(self, dy, need_input_grad):
        picks = self._picks
        if not need_input_grad or picks is None or picks[1] != self.masks_relu_input:
            if self._x is None and need_input_grad:
                raise RuntimeError(f'layer "{self.name}" ran fused with the convolution '
                                   "before it: its backward pass needs the same "
                                   "masks_relu_input as its forward pass")
            return super()._backward(dy, need_input_grad)
        return ops._max_pool2d_backward_picks(dy, picks[0], self._x_shape, self.pool_size,
                                              self.strides, self.padding,
                                              self._buffer("dx", self._x_shape))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Set by the model while it runs the layer after one ending in ReLU: the ReLU's
        # backward pass is done here, in the pooling backward. The input x is a ReLU's output
        # and each gradient goes to its window's maximum, the pooled output y: passing dy
        # only where that maximum is > 0 gives exactly what masking dx where x <= 0 would (an
        # element that takes several windows' gradients is the maximum of each, so all or
        # none of them pass), without a pass of its own over either array.
        self.masks_relu_input = False
        self._picks = None  # (picks, masks_relu_input) of the last training forward
        self._x_shape = None


class AveragePooling2D(_Pooling2D):
    """Mean over ``pool_size`` windows moved by ``strides`` (default: ``pool_size``);
    ``"same"`` padding divides by the number of real inputs in each window."""

    _op_names = ("avg_pool2d", "avg_pool2d_backward")


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
