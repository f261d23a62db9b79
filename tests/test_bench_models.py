"""bench/model_specs.py describes fastcnn's zoo models (the ones the benchmarks run) layer for
layer, so Keras and PyTorch, built from those descriptions, are given the same architectures;
bench/whole_models.py draws the same synthetic data for every framework."""
import os
import sys

import numpy as np
import pytest

from fastcnn import layers
from fastcnn.layers import Input
from fastcnn.models import Model, Sequential, zoo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "bench"))
import model_specs  # noqa: E402
import whole_models  # noqa: E402

# Keras' own counts: its tutorial/example summaries (BENCHMARKS.md for ResNet-20)
PUBLISHED_PARAMETERS = {"seed": 1_387_594, "tf-cnn": 122_570, "k-cnn": 1_250_858,
                        "resnet20": 274_442}
ZOO = {"seed": zoo.seed_cnn, "tf-cnn": zoo.tf_cnn, "k-cnn": zoo.kcnn, "resnet20": zoo.resnet20}


def _without_names(config):
    return {k: v for k, v in config.items() if k not in ("name", "input_shape")}


def structure(model):
    """The model's layers in order, each as (class, config without its name, the positions
    of the layers it is called on): what makes two models the same architecture."""
    config = model.get_config()
    entries = config["layers"]
    if "inbound_nodes" not in entries[0]:          # Sequential: a chain
        return ([(e["class_name"], _without_names(e["config"])) for e in entries],
                config.get("build_input_shape"))
    names = [e["name"] for e in entries]
    out = []
    for e in entries:
        refs = [r for node in e["inbound_nodes"] for r in
                ([node["inputs"]] if isinstance(node["inputs"][0], str) else node["inputs"])]
        config = _without_names(e["config"])
        if e["class_name"] == "InputLayer":
            config.pop("batch_shape")       # the input shape is compared below
        out.append((e["class_name"], config, [names.index(r[0]) for r in refs]))
    return out, model.input_shape


def fastcnn_from_spec(name):
    return model_specs.keras_api_model(model_specs.spec(name), layers, Input, Model,
                                       Sequential)


@pytest.mark.parametrize("name", model_specs.MODELS)
def test_description_builds_the_zoo_model_layer_for_layer(name):
    built, zoo_model = fastcnn_from_spec(name), ZOO[name]()
    assert structure(built) == structure(zoo_model)
    assert built.count_params() == zoo_model.count_params() == PUBLISHED_PARAMETERS[name]
    assert built.output_shape == zoo_model.output_shape == (None, 10)


def test_recipe_description_builds_the_zoo_resnet20_with_its_augmentation():
    import resnet20_recipe
    from fastcnn.layers import RandomFlip, RandomTranslation
    built = model_specs.keras_api_model(
        model_specs.resnet20((28, 28, 1), front=resnet20_recipe.AUGMENTATION), layers, Input,
        Model, Sequential)
    zoo_model = zoo.resnet20((28, 28, 1), 10, augmentation=[RandomFlip("horizontal"),
                                                           RandomTranslation(0.1, 0.1)])
    assert structure(built) == structure(zoo_model)
    assert built.count_params() == 274_154          # BENCHMARKS.md: 28x28x1 inputs


@pytest.mark.parametrize("name, chain", [("seed", True), ("tf-cnn", True), ("k-cnn", True),
                                         ("resnet20", False)])
def test_chains_build_sequential_models_and_resnet_a_graph(name, chain):
    assert model_specs.is_chain(model_specs.spec(name)) is chain
    assert isinstance(fastcnn_from_spec(name), Sequential) is chain


def test_resnet20_description_has_the_example_layers():
    classes = [c for c, _, _ in model_specs.spec("resnet20")["nodes"]]
    assert classes.count("Conv2D") == 21 and classes.count("BatchNormalization") == 19
    assert classes.count("Add") == 9 and classes[-2:] == ["GlobalAveragePooling2D", "Dense"]


def test_unknown_model_names_the_choices():
    with pytest.raises(ValueError, match="unknown model 'vgg'.*resnet20"):
        model_specs.spec("vgg")
    with pytest.raises(ValueError, match="unknown model"):
        whole_models.make_runner("fastcnn", {}, 1, model="vgg")


@pytest.mark.parametrize("name, shape", [("seed", (28, 28, 1)), ("resnet20", (32, 32, 3))])
def test_synthetic_data_is_the_same_for_every_framework(name, shape):
    a = whole_models.synthetic_data(name, 300, 20, seed=3)
    b = whole_models.synthetic_data(name, 300, 20, seed=3)
    assert a["x_train"].shape == (300,) + shape and a["x_test"].shape == (20,) + shape
    assert a["x_train"].dtype == np.uint8 and a["y_train"].dtype == np.uint8
    for key in a:
        assert np.array_equal(a[key], b[key])
    assert set(np.unique(a["y_train"])) == set(range(10))
    assert not np.array_equal(a["x_train"], whole_models.synthetic_data(name, 300, 20)[
        "x_train"])
