"""ResNet-20 (BENCHMARKS.md, the Keras cifar10_resnet example) builds with Keras' parameter
count and layer list, trains, saves and loads."""
import numpy as np

from fastcnn.models import load_model, zoo
from fastcnn.utils import set_random_seed


def test_resnet20_has_keras_parameter_count_and_layers():
    model = zoo.resnet20()
    assert model.count_params() == 274_442
    assert sum(w.size for w in model.trainable_weights) == 273_066
    assert len(model.layers) == 71                    # Keras counts the InputLayer too
    kinds = [type(l).__name__ for l in model.layers]
    assert kinds.count("Conv2D") == 21 and kinds.count("BatchNormalization") == 19
    assert kinds.count("Add") == 9 and kinds[-2:] == ["GlobalAveragePooling2D", "Dense"]


def test_resnet20_trains_saves_and_loads(tmp_path):
    set_random_seed(0)
    model = zoo.resnet20()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    gen = np.random.default_rng(0)
    x, y = gen.random((12, 32, 32, 3), dtype=np.float32), gen.integers(0, 10, 12)
    before = model.get_weights()
    history = model.fit(x, y, batch_size=6, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    model.save(tmp_path / "resnet20.fcnn")
    loaded = load_model(tmp_path / "resnet20.fcnn")
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert a.tobytes() == b.tobytes()
    assert loaded.predict(x).tobytes() == model.predict(x).tobytes()
    loaded.fit(x, y, batch_size=6, epochs=1, verbose=0)
