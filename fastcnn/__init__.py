"""fastcnn: fast CPU convolution and pooling kernels with a Keras-style API, on NumPy only.

    import fastcnn
    from fastcnn import ops
    y = ops.conv2d(x, w, b, strides=1, padding="same")     # NHWC x, HWIO w
    fastcnn.show_config()
"""
__version__ = "0.1.0"

from fastcnn._config import (get_num_threads, set_flush_denormal, set_num_threads,  # noqa: E402
                             show_config)
from fastcnn import ops, reference  # noqa: E402
# models registers the model classes that model files name (fastcnn.saving resolves them)
from fastcnn import layers, models  # noqa: E402

__all__ = ["ops", "reference", "layers", "models", "set_num_threads", "get_num_threads",
           "set_flush_denormal", "show_config", "__version__"]
