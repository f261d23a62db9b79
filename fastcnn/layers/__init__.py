"""Keras-style layers over NHWC images, and the functional API's ``Input``.

Every layer class is registered under its name, so that a model file can name it;
:func:`register` adds a layer class of your own (loading a file never imports a module it
names, never unpickles)."""
from .. import _registry
from .activation_layers import Activation, ReLU
from .augmentation import RandomCrop, RandomFlip, RandomTranslation
from .base import CallState, Layer
from .conv import Conv2D
from .core import Dense, Dropout, Flatten
from .input_layer import Input, InputLayer
from .merging import Add, Concatenate
from .node import SymbolicTensor
from .normalization import BatchNormalization
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
                      MaxPool2D, MaxPooling2D)
from .preprocessing import Rescaling
from .reshaping import ZeroPadding2D

__all__ = ["Layer", "CallState", "SymbolicTensor", "Input", "InputLayer", "Conv2D",
           "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D", "Flatten", "Dense",
           "Dropout", "Activation", "ReLU", "BatchNormalization", "GlobalAveragePooling2D",
           "GlobalMaxPooling2D", "Add", "Concatenate", "ZeroPadding2D", "Rescaling", "RandomFlip",
           "RandomTranslation", "RandomCrop", "get", "register"]


def register(cls=None, *, name=None):
    """Register a layer class of your own under ``name`` (its class name by default) so that
    models holding it can be saved and loaded: ``register(MyLayer)``, or as a decorator,
    ``@register`` / ``@register(name="MyLayer")``. Its ``get_config()`` must return the
    keyword arguments of its ``__init__`` (JSON values)."""
    def add(layer_cls):
        if not (isinstance(layer_cls, type) and issubclass(layer_cls, Layer)):
            raise TypeError(f"register expects a subclass of fastcnn.layers.Layer, got "
                            f"{layer_cls!r}")
        return _registry.register_class("layer", layer_cls, name or layer_cls.__name__)
    return add if cls is None else add(cls)


def get(class_name):
    """The layer class registered as ``class_name``; ValueError otherwise."""
    return _registry.registered("layer", class_name)


for _cls in (InputLayer, Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dense, Dropout,
             Activation, ReLU, BatchNormalization, GlobalAveragePooling2D, GlobalMaxPooling2D,
             Add, Concatenate, ZeroPadding2D, Rescaling, RandomFlip, RandomTranslation,
             RandomCrop):
    register(_cls)
register(MaxPooling2D, name="MaxPool2D")
register(AveragePooling2D, name="AvgPool2D")
