"""Keras-style layers: Conv2D, pooling, Flatten, Dense, Dropout, Activation (NHWC images)."""
from .base import Layer
from .conv import Conv2D
from .core import Activation, Dense, Dropout, Flatten
from .pooling import AveragePooling2D, AvgPool2D, MaxPool2D, MaxPooling2D

__all__ = ["Layer", "Conv2D", "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D",
           "Flatten", "Dense", "Dropout", "Activation", "get"]

_CLASSES = {cls.__name__: cls for cls in (Conv2D, MaxPooling2D, AveragePooling2D, Flatten,
                                          Dense, Dropout, Activation)}
_CLASSES.update(MaxPool2D=MaxPooling2D, AvgPool2D=AveragePooling2D)


def get(class_name):
    """The layer class named ``class_name`` (for loading saved models); ValueError otherwise."""
    if not isinstance(class_name, str) or class_name not in _CLASSES:
        raise ValueError(f"unknown layer class {class_name!r}; fastcnn has {sorted(_CLASSES)}")
    return _CLASSES[class_name]
