"""The models fastcnn is measured on (shared/BENCHMARKS.md), as their users write them.

- :func:`seed_cnn`: the Keras tutorial's CNN (the seed model), Sequential;
- :func:`tf_cnn`: the TensorFlow CIFAR-10 tutorial's CNN;
- :func:`kcnn`: the classic Keras ``cifar10_cnn`` example;
- :func:`resnet20`: ResNet-20 v1 of the Keras ``cifar10_resnet`` example (274,442
  parameters at 32x32x3).
"""
from ..layers import (Activation, Add, BatchNormalization, Conv2D, Dense, Dropout, Flatten,
                      GlobalAveragePooling2D, Input, MaxPooling2D)
from .functional import Model
from .sequential import Sequential

__all__ = ["seed_cnn", "tf_cnn", "kcnn", "resnet20"]


def seed_cnn(input_shape=(28, 28, 1), classes=10, augmentation=()):
    """``augmentation``: layers (RandomFlip, RandomTranslation...) put first in the model."""
    front = [Input(input_shape)] + list(augmentation) if augmentation else []
    return Sequential(front + [
        Conv2D(32, (3, 3), activation="relu", input_shape=list(input_shape)),
        MaxPooling2D(),
        Flatten(),
        Dense(256, activation="relu"),
        Dense(classes, activation="softmax"),
    ])


def tf_cnn(input_shape=(32, 32, 3), classes=10):
    return Sequential([
        Conv2D(32, 3, activation="relu", input_shape=input_shape), MaxPooling2D(),
        Conv2D(64, 3, activation="relu"), MaxPooling2D(),
        Conv2D(64, 3, activation="relu"),
        Flatten(), Dense(64, activation="relu"), Dense(classes, activation="softmax"),
    ])


def kcnn(input_shape=(32, 32, 3), classes=10):
    return Sequential([
        Conv2D(32, 3, padding="same", input_shape=input_shape), Activation("relu"),
        Conv2D(32, 3), Activation("relu"), MaxPooling2D(), Dropout(0.25),
        Conv2D(64, 3, padding="same"), Activation("relu"),
        Conv2D(64, 3), Activation("relu"), MaxPooling2D(), Dropout(0.25),
        Flatten(), Dense(512), Activation("relu"), Dropout(0.5),
        Dense(classes), Activation("softmax"),
    ])


def _resnet_layer(x, filters, kernel_size=3, strides=1, activation="relu", batch_norm=True):
    x = Conv2D(filters, kernel_size, strides=strides, padding="same",
               kernel_initializer="he_normal")(x)
    if batch_norm:
        x = BatchNormalization()(x)
    return Activation(activation)(x) if activation is not None else x


def resnet20(input_shape=(32, 32, 3), classes=10, augmentation=()):
    """ResNet v1 with 3 stages of 3 residual blocks (16, 32, 64 filters; the first block of
    stages 2 and 3 halves the image with strides 2 and a 1x1 projection shortcut).
    ``augmentation``: layers (RandomFlip, RandomTranslation...) applied to the input first."""
    inputs = x = Input(input_shape)
    for layer in augmentation:
        x = layer(x)
    x = _resnet_layer(x, 16)
    filters = 16
    for stage in range(3):
        for block in range(3):
            strides = 2 if stage > 0 and block == 0 else 1
            y = _resnet_layer(x, filters, strides=strides)
            y = _resnet_layer(y, filters, activation=None)
            if stage > 0 and block == 0:
                x = _resnet_layer(x, filters, kernel_size=1, strides=strides, activation=None,
                                  batch_norm=False)
            x = Activation("relu")(Add()([x, y]))
        filters *= 2
    x = GlobalAveragePooling2D()(x)
    outputs = Dense(classes, activation="softmax", kernel_initializer="he_normal")(x)
    return Model(inputs, outputs, name="resnet20")
