"""Tiny models and data shared by tests/test_distributed.py (the one-process reference,
trained in the test's own process) and the scripts it runs under mpiexec."""
import numpy as np

from fastcnn import layers, models, optimizers, regularizers, utils

# case -> (samples, fit keyword arguments). 83 samples in batches of 16: the last batch of 3
# is shared 2/1 on two ranks; 81: the last batch of 1 leaves rank 1 without a share.
CASES = {
    "sgd": (83, {}),
    "adam": (81, {"sample_weight": True}),
    "bn": (83, {}),
}
EPOCHS, BATCH = 2, 16
# the result files: each case, and "adam" trained one epoch more in a second fit (resumed)
RUNS = list(CASES) + ["adam-resumed"]


def data(samples, seed=7):
    gen = np.random.default_rng(seed)
    x = gen.normal(size=(samples, 6, 6, 2)).astype(np.float32)
    y = np.eye(3)[gen.integers(0, 3, samples)]
    return x, y


def build(case, seed=0):
    """The case's compiled model; weights drawn from fastcnn's generator seeded with
    ``seed``."""
    utils.set_random_seed(seed)
    body = [layers.Input((6, 6, 2)),
            layers.Conv2D(4, 3, activation="relu",
                          kernel_regularizer=regularizers.L2(1e-3) if case == "sgd" else None)]
    if case == "bn":
        body += [layers.Conv2D(4, 3), layers.BatchNormalization(), layers.Activation("relu"),
                 layers.Dropout(0.25)]
    model = models.Sequential(body + [layers.Flatten(), layers.Dense(3, activation="softmax")])
    opt = (optimizers.Adam(0.01) if case == "adam"
           else optimizers.SGD(0.05, momentum=0.9))
    model.compile(opt, "categorical_crossentropy", metrics=["accuracy"])
    return model


def train(case, verbose=0, callbacks=None, seed=0):
    """Train ``case`` for EPOCHS epochs; return the model, its History and the data."""
    samples, options = CASES[case]
    model = build(case, seed)
    x, y = data(samples)
    xv, yv = data(13, seed=8)
    sw = np.linspace(0.5, 1.5, samples) if options.get("sample_weight") else None
    history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=verbose,
                        sample_weight=sw, validation_data=(xv, yv), callbacks=callbacks)
    return model, history, (x, y)


def resume(model, x, y):
    """One epoch more, in a second fit (which starts from the optimizer's state)."""
    return model.fit(x, y, batch_size=BATCH, epochs=EPOCHS + 1, initial_epoch=EPOCHS, verbose=0)


def results(model, history, x, y):
    """What the tests compare: weights, the history, evaluate and predict."""
    out = {f"weight{i}": w for i, w in enumerate(model.get_weights())}
    out.update({f"history_{k}": np.array(v) for k, v in history.history.items()})
    out["evaluate"] = np.array(model.evaluate(x, y, batch_size=10, verbose=0))
    out["predict"] = model.predict(x, batch_size=10)
    return out
