"""``keras.metrics``' stateful objects (``AUC``, ``Precision``, ``Recall``,
``RootMeanSquaredError``, the accuracies): accumulated over the batches of an epoch by
``fit``/``evaluate`` (not a mean of per-batch values), logged under Keras's names, with
Keras's numbers; compared with Keras 3 where it is installed (``KERAS_BACKEND=torch``)."""

import minidl_keras as keras
import numpy as np
import pytest

import minidl as mdl
from tests.keras.keras_oracle import real_keras


def scores_and_labels(n=300, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    scores = 1 / (1 + np.exp(-(labels * 1.2 - 0.6 + rng.normal(size=n))))
    return labels.astype(np.float32), scores.astype(np.float32)


def exact_roc_auc(labels, scores):
    """The probability that a positive outranks a negative (ties count half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    return ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (
        len(pos) * len(neg)
    )


def test_metrics_accumulate_over_batches_not_average_them():
    labels, scores = scores_and_labels()
    whole = {m.name: m for m in (keras.metrics.AUC(name="auc"), keras.metrics.Precision(name="p"))}
    by_batch = {m.name: m for m in (keras.metrics.AUC(name="auc"), keras.metrics.Precision(name="p"))}
    for metric in whole.values():
        metric.update_state(labels, scores)
    for start in range(0, 300, 7):
        for metric in by_batch.values():
            metric.update_state(labels[start : start + 7], scores[start : start + 7])
    for name in whole:
        assert by_batch[name].result() == pytest.approx(whole[name].result(), abs=1e-12)
    assert whole["auc"].result() == pytest.approx(exact_roc_auc(labels, scores), abs=5e-3)
    predicted = scores > 0.5
    assert whole["p"].result() == pytest.approx((predicted & (labels == 1)).sum() / predicted.sum())
    whole["p"].reset_state()
    assert whole["p"].result() == 0.0


def test_rmse_is_the_root_of_the_epochs_mean_not_a_mean_of_roots():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    rmse = keras.metrics.RootMeanSquaredError()
    for start in range(0, 40, 16):
        rmse.update_state(y_true[start : start + 16], y_pred[start : start + 16])
    assert rmse.result() == pytest.approx(np.sqrt(((y_true - y_pred) ** 2).mean()), rel=1e-12)
    assert rmse.name == "root_mean_squared_error"


def test_unnamed_metrics_are_named_as_keras_names_them():
    keras.backend.clear_session()
    assert [keras.metrics.AUC().name, keras.metrics.AUC().name, keras.metrics.Recall().name] == [
        "auc",
        "auc_1",
        "recall",
    ]
    keras.backend.clear_session()
    assert keras.metrics.AUC().name == "auc"


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.AUC(name="a"),
        lambda m: m.AUC(num_thresholds=17, curve="PR", name="a"),
        lambda m: m.AUC(curve="PR", summation_method="minoring", name="a"),
        lambda m: m.AUC(summation_method="majoring", name="a"),
        lambda m: m.AUC(thresholds=[0.3, 0.5, 0.7], name="a"),
        lambda m: m.AUC(from_logits=True, name="a"),
        lambda m: m.Precision(name="a"),
        lambda m: m.Precision(thresholds=[0.3, 0.6], name="a"),
        lambda m: m.Recall(thresholds=0.7, name="a"),
        lambda m: m.Recall(class_id=1, name="a"),
        lambda m: m.RootMeanSquaredError(name="a"),
    ],
)
def test_stateful_metrics_match_keras_over_several_batches(make):
    real = real_keras()
    labels, scores = scores_and_labels(seed=2)
    if getattr(make(keras.metrics), "class_id", None) is not None:  # one-hot targets, two columns
        labels, scores = np.eye(2, dtype=np.float32)[labels.astype(int)], np.stack([1 - scores, scores], 1)
    weights = np.random.default_rng(3).uniform(0.5, 2, len(labels)).astype(np.float32)
    ours, theirs = make(keras.metrics), make(real.metrics)
    for start in range(0, len(labels), 64):
        part = slice(start, start + 64)
        ours.update_state(labels[part], scores[part], sample_weight=weights[part])
        theirs.update_state(labels[part], scores[part], sample_weight=weights[part])
    want = np.asarray(real.ops.convert_to_numpy(theirs.result()))
    np.testing.assert_allclose(np.asarray(ours.result()), want, rtol=1e-5, atol=1e-6)


def binary_data(n=96, seed=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=n) * 0.7 > 0).astype(np.float32)
    return x, y


def binary_model(lib, metrics):
    model = lib.Sequential([lib.Input((4,)), lib.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=lib.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=metrics)
    return model


def test_fit_and_evaluate_report_epoch_values_under_kerass_names():
    x, y = binary_data()
    keras.backend.clear_session()
    model = binary_model(keras, ["accuracy", keras.metrics.AUC(), "precision", keras.metrics.Recall()])
    history = model.fit(x, y, batch_size=10, epochs=2, verbose=0, validation_data=(x[:40], y[:40]))
    assert set(history.history) == {
        f"{p}{k}" for p in ("", "val_") for k in ("accuracy", "auc", "loss", "precision", "recall")
    }
    loss, accuracy, auc, precision, recall = model.evaluate(x, y, batch_size=7, verbose=0)
    scores = model.predict(x, verbose=0)[:, 0]
    expected = {m.name: m for m in (keras.metrics.AUC(name="auc"), keras.metrics.Precision(name="p"))}
    for metric in expected.values():
        metric.update_state(y, scores)
    assert auc == pytest.approx(expected["auc"].result(), abs=1e-9)  # the whole set, not batch means
    assert precision == pytest.approx(expected["p"].result(), abs=1e-9)
    assert model.metrics_names == ["loss", "compile_metrics"]


def test_fit_and_evaluate_match_keras():
    real = real_keras()
    x, y = binary_data()
    keras.backend.clear_session()
    real.backend.clear_session()
    specs = lambda lib: ["accuracy", lib.metrics.AUC(), "precision", lib.metrics.Recall(), "auc"]  # noqa: E731
    ours, theirs = binary_model(keras, specs(keras)), binary_model(real, specs(real))
    theirs.build((None, 4))
    ours.set_weights([real.ops.convert_to_numpy(w) for w in theirs.weights])
    mine = ours.fit(x, y, batch_size=10, epochs=2, verbose=0, shuffle=False, validation_data=(x[:40], y[:40]))
    want = theirs.fit(
        x, y, batch_size=10, epochs=2, verbose=0, shuffle=False, validation_data=(x[:40], y[:40])
    )
    assert set(mine.history) == set(want.history)
    for name, values in want.history.items():
        np.testing.assert_allclose(mine.history[name], values, rtol=2e-4, atol=2e-5, err_msg=name)
    # (Keras's evaluate list repeats a value when two metrics share a name: compare the dicts)
    mine, want = (m.evaluate(x, y, batch_size=7, verbose=0, return_dict=True) for m in (ours, theirs))
    assert mine.keys() == want.keys()
    for name in want:
        assert mine[name] == pytest.approx(float(want[name]), rel=2e-4), name


def test_a_functional_model_counts_a_metric_per_output_and_a_model_with_them_saves(tmp_path):
    x, y = binary_data()
    inputs = keras.Input((4,))
    a = keras.layers.Dense(1, activation="sigmoid", name="a")(inputs)
    b = keras.layers.Dense(1, name="b")(inputs)
    model = keras.Model(inputs, {"a": a, "b": b})
    model.compile(
        "adam",
        {"a": "binary_crossentropy", "b": "mse"},
        metrics={"a": ["auc"], "b": ["root_mean_squared_error"]},
    )
    history = model.fit(x, {"a": y, "b": x[:, :1]}, batch_size=16, epochs=2, verbose=0)
    assert {"a_auc", "b_root_mean_squared_error", "a_loss", "b_loss", "loss"} <= set(history.history)
    results = model.evaluate(x, {"a": y, "b": x[:, :1]}, batch_size=9, verbose=0, return_dict=True)
    a_scores, b_values = model.predict(x, verbose=0)
    auc = keras.metrics.AUC(name="x")
    auc.update_state(y, a_scores)
    assert results["a_auc"] == pytest.approx(auc.result(), abs=1e-9)
    assert results["b_root_mean_squared_error"] == pytest.approx(
        np.sqrt(((b_values - x[:, :1]) ** 2).mean()), rel=1e-5
    )

    sequential = binary_model(keras, ["auc", keras.metrics.RootMeanSquaredError()])
    sequential.fit(x, y, epochs=1, verbose=0)
    sequential.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert again.metrics_names == ["loss", "compile_metrics"]
    assert again.evaluate(x, y, verbose=0) == pytest.approx(sequential.evaluate(x, y, verbose=0))


def test_minidls_own_fit_takes_a_stateful_metric_too():
    mdl.seed(0)
    x, y = binary_data()
    model = mdl.Sequential([mdl.layers.Dense(1, activation="sigmoid")], input_shape=(4,))
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert 0.5 < history.history["auc"][0] <= 1.0


def test_a_functional_model_with_numbered_metric_names_and_a_separable_layer_saves(tmp_path):
    x, y = binary_data()
    inputs = keras.Input((4,))
    hidden = keras.layers.Reshape((2, 2, 1))(inputs)
    hidden = keras.layers.SeparableConv2D(3, 2, padding="same", activation="relu")(hidden)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(hidden))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "binary_crossentropy", metrics=[keras.metrics.AUC(name="auc"), "auc", "recall"])
    assert model.metrics_names == ["loss", "compile_metrics"]
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert again.metrics_names == model.metrics_names
    np.testing.assert_allclose(again.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)
    assert again.layers[2].pointwise_kernel.shape == (1, 1, 1, 3)


def top_k_batches(seed=3):
    """Scores with ties at the k-th place (rounded to one decimal), labels 0..5, in 3 batches."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.uniform(size=(60, 6)), 1).astype(np.float32)
    labels = rng.integers(0, 6, 60)
    return [(labels[i : i + 20], scores[i : i + 20]) for i in range(0, 60, 20)]


def brute_force_in_top_k(labels, scores, k):
    """A label is in the top k when fewer than k scores of its row are strictly larger than its own."""
    own = scores[np.arange(len(labels)), labels]
    return ((scores > own[:, None]).sum(axis=1) < k).mean()


@pytest.mark.parametrize("k", [1, 2, 5, 9])
def test_top_k_accuracies_count_ties_and_accumulate_over_batches(k):
    batches = top_k_batches()
    sparse = keras.metrics.SparseTopKCategoricalAccuracy(k=k)
    one_hot = keras.metrics.TopKCategoricalAccuracy(k=k)
    for labels, scores in batches:
        sparse.update_state(labels, scores)
        one_hot.update_state(np.eye(6)[labels], scores)
    labels, scores = (np.concatenate(parts) for parts in zip(*batches))
    assert sparse.result() == pytest.approx(brute_force_in_top_k(labels, scores, k), abs=1e-12)
    assert one_hot.result() == pytest.approx(sparse.result(), abs=1e-12)
    assert (sparse.name, one_hot.name) == ("sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy")
    if k >= 6:
        assert sparse.result() == 1.0


def test_top_k_bad_k_and_sorted_ids_say_what_they_need():
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        keras.metrics.TopKCategoricalAccuracy(k=0).update_state(np.eye(3), np.eye(3))
    with pytest.raises(NotImplementedError, match="from_sorted_ids=True"):
        keras.metrics.SparseTopKCategoricalAccuracy(from_sorted_ids=True)


def test_top_k_accuracies_match_keras_in_fit():
    real = real_keras()
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(64, 5)).astype(np.float32), rng.integers(0, 7, 64)

    def run(k):
        model = k.Sequential(
            [k.Input((5,)), k.layers.Dense(7, activation="softmax")]
        )  # k=5 needs 5+ classes in Keras
        model.compile(
            optimizer=k.optimizers.SGD(0.1),
            loss="sparse_categorical_crossentropy",
            metrics=[k.metrics.SparseTopKCategoricalAccuracy(k=2), "sparse_top_k_categorical_accuracy"],
        )
        return model

    ours, theirs = run(keras), run(real)
    ours.set_weights(theirs.get_weights())
    got = ours.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    want = theirs.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    assert sorted(got) == sorted(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6)
