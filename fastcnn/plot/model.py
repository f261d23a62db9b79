"""``plot_model``: a model's graph of layer calls, drawn with matplotlib alone (no graphviz).

Each layer call is a box (the layer's name, its type and output shape) on the row of its
depth, its longest path from an input, so that every arrow points down. Within a row, the
call on the longest path to an output keeps the column of its input and the others go
beside it: parallel branches sit side by side. An arrow that skips rows (a residual
shortcut) runs down the gutter beside the column, never through a box.
"""
from ._figure import finish, matplotlib_module, new_figure

__all__ = ["plot_model", "check_model", "graph_nodes", "layer_output"]

BOX_HEIGHT = 0.62       # inches
ROW_GAP = 0.4
GUTTER = 0.45
LANE_STEP = 0.13        # between parallel shortcut arrows in one gutter
MARGIN = 0.3
TITLE_SPACE = 0.6
COLOURS = {   # by layer type; anything else is grey
    "InputLayer": "#e8e8e8", "Conv2D": "#cfe2f3", "Dense": "#fce5cd",
    "MaxPooling2D": "#d9ead3", "AveragePooling2D": "#d9ead3",
    "GlobalAveragePooling2D": "#d9ead3", "GlobalMaxPooling2D": "#d9ead3",
    "BatchNormalization": "#e4dcf1", "Activation": "#fff2cc", "ReLU": "#fff2cc",
    "Add": "#f4cccc", "Concatenate": "#f4cccc", "Dropout": "#f3f3f3",
}


def check_model(model):
    """TypeError unless ``model`` is a fastcnn model; ValueError unless it is built."""
    from ..models import Model
    if not isinstance(model, Model):
        raise TypeError(f"model must be a fastcnn model (Sequential or Model), got "
                        f"{type(model).__name__}")
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built yet, so it has no graph to draw: "
                         "give its first layer input_shape, or call model.build(shape)")


def graph_nodes(model):
    """The model's layer calls, each after the calls whose outputs it reads (a walk back
    from ``model.outputs``; iterative, so that deep models do not exhaust the stack)."""
    order, seen = [], set()
    stack = [(t.node, False) for t in reversed(model.outputs)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((t.node, False) for t in reversed(node.inputs))
    return order


def layer_output(model, layer):
    """The symbolic output of ``layer``'s (first) call in ``model``'s graph."""
    for node in graph_nodes(model):
        if node.layer is layer:
            return node.outputs[0]
    raise ValueError(f"layer {layer.name!r} is not a layer of model {model.name!r}")


def _layout(nodes):
    """{id(node): (row, column)}: rows by depth from the inputs; in each row, the calls
    with the longest way to go take the column of their leftmost input first."""
    row, height, consumers = {}, {}, {}
    for node in nodes:
        row[id(node)] = 1 + max((row[id(p)] for p in node.parents), default=-1)
        for p in node.parents:
            consumers.setdefault(id(p), []).append(node)
    for node in reversed(nodes):
        height[id(node)] = 1 + max((height[id(c)] for c in consumers.get(id(node), [])),
                                   default=-1)
    order = {id(node): i for i, node in enumerate(nodes)}
    column, taken = {}, {}
    for node in sorted(nodes, key=lambda n: (row[id(n)], -height[id(n)], order[id(n)])):
        used = taken.setdefault(row[id(node)], set())
        want = min((column[id(p)] for p in node.parents), default=len(used))
        for step in range(len(used) + 1):       # nearest free column, right side first
            if want + step not in used:
                col = want + step
                break
            if want - step >= 0 and want - step not in used:
                col = want - step
                break
        used.add(col)
        column[id(node)] = col
    return {key: (row[key], column[key]) for key in row}


def _lanes(nodes, place):
    """The arrows (parent, node) that skip rows, each with its gutter (right of column g)
    and lane index in it, chosen so that lanes overlapping in rows differ."""
    lanes, busy = [], {}
    for node in nodes:
        for parent in node.parents:
            (r0, c0), (r1, c1) = place[id(parent)], place[id(node)]
            if r1 - r0 == 1:
                continue
            gutter = min(c0, c1)
            slots = busy.setdefault(gutter, [])
            lane = next((k for k, spans in enumerate(slots)
                         if all(r1 <= a or b <= r0 for a, b in spans)), len(slots))
            if lane == len(slots):
                slots.append([])
            slots[lane].append((r0, r1))
            lanes.append((parent, node, gutter, lane))
    return lanes, {g: len(s) for g, s in busy.items()}


def _label(node):
    shape = node.outputs[0].shape
    return node.layer.name, f"{type(node.layer).__name__}  {tuple(shape)}"


class _Drawing:
    """Where things go, in inches from the top left (y grows downwards as -y)."""

    def __init__(self, nodes, place, lane_count, labels):
        self.place = place
        self.width = max(2.4, 0.3 + 0.068 * max(max(map(len, ls)) for ls in labels.values()))
        columns = 1 + max(c for _, c in place.values())
        self.gutters = [GUTTER + LANE_STEP * lane_count.get(c, 0) for c in range(columns)]
        self.left = [MARGIN + sum(self.width + g for g in self.gutters[:c])
                     for c in range(columns)]
        rows = 1 + max(r for r, _ in place.values())
        self.size = (self.left[-1] + self.width + MARGIN
                     + (self.gutters[-1] if columns - 1 in lane_count else 0),
                     TITLE_SPACE + rows * (BOX_HEIGHT + ROW_GAP) - ROW_GAP + MARGIN)
        # arrows that turn in the gap below a row: one height per source box, so that
        # the arrows of different boxes do not run together
        turning = {}
        for node in nodes:
            for parent in node.parents:
                if place[id(parent)][1] != place[id(node)][1]:
                    turning.setdefault(place[id(parent)][0], {})[id(parent)] = place[id(parent)]
        self.turn = {}
        for sources in turning.values():
            for k, key in enumerate(sorted(sources, key=sources.get)):
                self.turn[key] = ROW_GAP * (k + 1) / (len(sources) + 1)

    def centre(self, node):
        r, c = self.place[id(node)]
        return (self.left[c] + self.width / 2,
                -TITLE_SPACE - r * (BOX_HEIGHT + ROW_GAP) - BOX_HEIGHT / 2)

    def arrow(self, parent, node, lane=None):
        """The corners of the arrow from ``parent`` to ``node``: straight down, or through
        the gap below ``parent``; with ``lane`` = (gutter, index), down that gutter."""
        (x0, y0), (x1, y1) = self.centre(parent), self.centre(node)
        half = BOX_HEIGHT / 2
        gap = y0 - half - self.turn.get(id(parent), ROW_GAP / 2)
        # an arrow from another column enters off centre, on its side, so that it never
        # runs together with the arrow from the box straight above
        x1_in = x1 + (self.width / 4 if x0 > x1 else -self.width / 4)
        if lane is None:
            return ([(x0, y0 - half), (x1, y1 + half)] if x0 == x1 else
                    [(x0, y0 - half), (x0, gap), (x1_in, gap), (x1_in, y1 + half)])
        gutter, index = lane
        lane_x = self.left[gutter] + self.width + GUTTER / 2 + LANE_STEP * index
        columns = self.place[id(parent)][1], self.place[id(node)][1]
        if set(columns) <= {gutter, gutter + 1}:
            # both boxes border the gutter: a bracket from side to side
            sides = [x + (self.width / 2 if c == gutter else -self.width / 2)
                     for x, c in zip((x0, x1), columns)]
            return [(sides[0], y0), (lane_x, y0), (lane_x, y1), (sides[1], y1)]
        above = y1 + half + ROW_GAP / 2
        x1_in = x1 + (self.width / 4 if lane_x > x1 else -self.width / 4)
        return [(x0, y0 - half), (x0, gap), (lane_x, gap), (lane_x, above), (x1_in, above),
                (x1_in, y1 + half)]


def plot_model(model, *, path=None):
    """The graph of ``model`` (built): one box per layer call with the layer's name, type and
    output shape (batch axis ``None``), arrows from each call to the calls that read its
    output, laid out by depth, branches side by side; the title gives the parameter count.
    Returns a matplotlib Figure, also written to ``path`` when given."""
    check_model(model)
    patches, path_module = matplotlib_module("patches"), matplotlib_module("path")
    nodes = graph_nodes(model)
    place = _layout(nodes)
    lanes, lane_count = _lanes(nodes, place)
    labels = {id(n): _label(n) for n in nodes}
    drawing = _Drawing(nodes, place, lane_count, labels)
    width, (total_w, total_h) = drawing.width, drawing.size

    figure = new_figure(total_w, total_h)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, total_w)
    ax.set_ylim(-total_h, 0)
    ax.set_axis_off()
    ax.text(total_w / 2, -TITLE_SPACE / 2, f"{model.name}: {model.count_params():,} parameters",
            ha="center", va="center", fontsize=11, fontweight="bold")
    for node in nodes:
        x, y = drawing.centre(node)
        ax.add_patch(patches.FancyBboxPatch(
            (x - width / 2, y - BOX_HEIGHT / 2), width, BOX_HEIGHT,
            boxstyle="round,pad=0,rounding_size=0.08", linewidth=0.8, edgecolor="#555555",
            facecolor=COLOURS.get(type(node.layer).__name__, "#eeeeee")))
        name, detail = labels[id(node)]
        ax.text(x, y + 0.12, name, ha="center", va="center", fontsize=9, fontweight="bold")
        ax.text(x, y - 0.13, detail, ha="center", va="center", fontsize=8)
    arrows = [drawing.arrow(parent, node) for node in nodes for parent in node.parents
              if place[id(node)][0] - place[id(parent)][0] == 1]
    arrows += [drawing.arrow(parent, node, (gutter, index))
               for parent, node, gutter, index in lanes]
    for points in arrows:
        codes = [path_module.Path.MOVETO] + [path_module.Path.LINETO] * (len(points) - 1)
        ax.add_patch(patches.FancyArrowPatch(
            path=path_module.Path(points, codes), arrowstyle="-|>", mutation_scale=9,
            linewidth=0.9, color="#444444"))
    return finish(figure, path)
