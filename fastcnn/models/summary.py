"""``model.summary()``: a table of the layers as Keras prints it, with a "Connected to"
column for functional models (the inputs of each call, ``layer[node][tensor]``)."""
import numpy as np

__all__ = ["print_summary"]


def _format_count(n):
    return f"{n:,}"


def _format_bytes(n):
    size, unit = float(n), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            break
        size /= 1024
    return f"{size:.2f} {unit}"


def _connections(model, layer):
    """One line per input tensor of the layer's calls in the model, or "-"."""
    graph = model._graph
    names = ["{}[{}][{}]".format(*graph.ref(t))
             for node in graph.layer_nodes[id(layer)] for t in node.inputs]
    return names or ["-"]


def _rows(model, connections):
    rows = []
    for layer in model.layers:
        label = f"{layer.name} ({type(layer).__name__})"
        if layer.built:
            cells = [label, str(layer.output_shape), _format_count(layer.count_params())]
        else:
            cells = [label, "?", "0 (unbuilt)"]
        if not connections:
            rows.append(cells)
            continue
        links = _connections(model, layer)
        rows.append(cells + [links[0]])
        rows.extend(["", "", "", link] for link in links[1:])
    return rows


def print_summary(model, line_length=None, print_fn=None, connections=False):
    print_fn = print if print_fn is None else print_fn
    rows = _rows(model, connections and model.built)
    header = ["Layer (type)", "Output Shape", "Param #"]
    minimum = [29, 26, 10]
    if connections and model.built:
        header.append("Connected to")
        minimum.append(20)
    widths = [max([len(header[c]) + 2, minimum[c]] + [len(r[c]) + 2 for r in rows])
              for c in range(len(header))]
    width = max(sum(widths) + 1, line_length or 0)
    widths[0] += width - sum(widths) - 1

    def row(cells):
        line = (" " + cells[0].ljust(widths[0]) + cells[1].ljust(widths[1])
                + cells[2].rjust(widths[2] - 2))
        if len(cells) > 3:
            line += "  " + cells[3]
        return line

    trainable = sum(w.size for w in model.trainable_weights)
    total = sum(w.size for w in model.weights)
    itemsize = np.dtype(model.dtype).itemsize
    lines = [f'Model: "{model.name}"', "_" * width, row(header), "=" * width]
    lines += [row(r) for r in rows]
    lines += ["=" * width,
              f" Total params: {_format_count(total)} ({_format_bytes(total * itemsize)})",
              f" Trainable params: {_format_count(trainable)} "
              f"({_format_bytes(trainable * itemsize)})",
              f" Non-trainable params: {_format_count(total - trainable)} "
              f"({_format_bytes((total - trainable) * itemsize)})",
              "_" * width]
    for line in lines:
        print_fn(line)
