"""Pictures of what a convolution learned: its filters, and the feature maps it makes."""
import math

import numpy as np

from ._figure import finish, new_figure
from .model import check_model, layer_output

__all__ = ["plot_filters", "plot_feature_maps"]

PANEL_INCHES = 1.05


def _grid_figure(count, title):
    """A figure with ``count`` image panels in a grid about twice as wide as tall (no axes
    for the empty cells), its title, and the panels."""
    columns = math.ceil(math.sqrt(2 * count))
    rows = math.ceil(count / columns)
    columns = math.ceil(count / rows)
    figure = new_figure(PANEL_INCHES * columns + 1.2, PANEL_INCHES * rows + 0.7)
    figure.set_layout_engine("constrained")
    figure.suptitle(title)
    axes = []
    for i in range(count):
        ax = figure.add_subplot(rows, columns, i + 1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(str(i), fontsize=8, pad=2)
        axes.append(ax)
    return figure, axes


def plot_filters(layer, *, path=None):
    """The filters of ``layer`` (a built ``Conv2D``): one panel per filter, its kernel
    weights as an image, all on one colour scale centred on 0.

    With 3 input channels (RGB images) each filter is shown in colour, input channels 0, 1,
    2 as red, green, blue (grey is a weight of 0, brighter a positive weight); with one
    input channel in a blue-white-red map with a colour bar (one extra axes); with any other
    number, the mean over the input channels (what the filter does to an input that is the
    same in every channel) in that map. Returns a matplotlib Figure, also written to
    ``path`` when given."""
    from ..layers import Conv2D, Layer
    if not isinstance(layer, Conv2D):
        what = (f"layer {layer.name!r} of type {type(layer).__name__}"
                if isinstance(layer, Layer) else type(layer).__name__)
        raise TypeError(f"layer must be a Conv2D layer (plot_filters shows convolution "
                        f"kernels), got {what}")
    if not layer.built:
        raise ValueError(f"layer {layer.name!r} is not built yet, so it has no filters: build "
                         "its model (or call it on data) first")
    kernel = np.array(layer.kernel, dtype=np.float64)
    height, width, channels, filters = kernel.shape
    shape = f"{height}x{width}"
    if channels == 3:
        scale = max(float(np.abs(kernel).max()), np.finfo(np.float64).tiny)
        images = np.clip(0.5 + kernel / (2 * scale), 0.0, 1.0)
        title = f"{layer.name}: {filters} filters {shape}x3 (input channels as RGB)"
    else:
        images = kernel[:, :, 0] if channels == 1 else kernel.mean(axis=2)
        scale = max(float(np.abs(images).max()), np.finfo(np.float64).tiny)
        title = f"{layer.name}: {filters} filters {shape}"
        if channels > 1:
            title += f" (mean over {channels} input channels)"
    figure, axes = _grid_figure(filters, title)
    for f, ax in enumerate(axes):
        if channels == 3:
            image = ax.imshow(images[..., f], interpolation="nearest")
        else:
            image = ax.imshow(images[..., f], cmap="RdBu_r", vmin=-scale, vmax=scale,
                              interpolation="nearest")
    if channels != 3:
        figure.colorbar(image, ax=axes, shrink=0.8, label="weight")
    return finish(figure, path)


def _one_image(x, input_shape):
    """``x`` (one image of the model's input shape, or a batch of one) as a batch of one."""
    from ..layers.base import numeric_array
    array = numeric_array(x, "x")
    if array.shape == input_shape:
        return array[np.newaxis]
    if array.shape == (1,) + input_shape:
        return array
    raise ValueError(f"x must be one image of shape {input_shape} (or a batch of one, "
                     f"{(1,) + input_shape}), got shape {array.shape}")


def plot_feature_maps(model, x, layer=None, *, path=None):
    """The feature maps of ``layer`` for the image ``x``: one panel per channel of the
    layer's output, all on one colour scale with a colour bar (one extra axes).

    ``model`` is a built single-input model; ``x`` one image of its input shape or a batch
    of one; ``layer`` a layer of the model or its name (default: the first Conv2D), whose
    output must be images (N, H, W, C); a Conv2D's maps are after its activation. The
    output is computed by a model from the model's input to that layer
    (``Model(model.inputs, ...)``, sharing its weights); ``model`` and ``x`` are not
    changed. Returns a matplotlib Figure, also written to ``path`` when given."""
    from ..layers import Conv2D, Layer
    from ..models import Model
    check_model(model)
    if len(model.inputs) != 1:
        raise ValueError(f"model {model.name!r} has {len(model.inputs)} inputs; "
                         "plot_feature_maps takes models of one input")
    if layer is None:
        layer = next((l for l in model.layers if isinstance(l, Conv2D)), None)
        if layer is None:
            raise ValueError(f"model {model.name!r} has no Conv2D layer: give the layer whose "
                             "maps to show as layer=")
    elif isinstance(layer, str):
        names = [l.name for l in model.layers]
        if layer not in names:
            raise ValueError(f"layer: model {model.name!r} has no layer named {layer!r}; its "
                             f"layers: {names}")
        layer = model.layers[names.index(layer)]
    elif not isinstance(layer, Layer):
        raise TypeError(f"layer must be a layer of the model or its name, got "
                        f"{type(layer).__name__}")
    batch = _one_image(x, tuple(model.inputs[0].shape[1:]))
    tensor = layer_output(model, layer)
    if len(tensor.shape) != 4:
        raise ValueError(f"layer {layer.name!r} outputs shape {tensor.shape}, not images "
                         "(N, H, W, C): plot_feature_maps shows the maps of image layers")
    maps = Model(model.inputs[0], tensor, name=f"{model.name}_feature_maps")(batch)[0]
    height, width, channels = maps.shape
    low, high = float(maps.min()), float(maps.max())
    figure, axes = _grid_figure(
        channels, f"{layer.name}: {channels} feature maps {height}x{width}")
    for c, ax in enumerate(axes):
        image = ax.imshow(maps[..., c], cmap="viridis", vmin=low, vmax=max(high, low + 1e-12),
                          interpolation="nearest")
    figure.colorbar(image, ax=axes, shrink=0.8, label="activation")
    return finish(figure, path)
