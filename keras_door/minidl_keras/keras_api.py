"""Keras 3's public API of ``Model``, ``Sequential``, ``Layer``, ``Callback`` and
``Optimizer``, name by name: each name exists in the door, or reading it raises
``KerasFeatureMissing`` (a ``NotImplementedError``, also an ``AttributeError``) that names the
closest minidl way -- never a bare ``AttributeError``, never a silent difference.

``KERAS_NAMES`` lists the public names of Keras 3.15.1's classes (PyTorch backend; the names
``torch.nn.Module`` brings are left out: they are the backend's, not Keras's API). ``ABSENT``
says, per class, which of them the door lacks, and ``HINTS`` the closest minidl way for each.
The door's classes read ``ABSENT`` in their ``__getattr__`` (``KerasAbsent``);
``tests/keras/test_keras_api.py`` walks ``KERAS_NAMES`` on the door's objects (and real
Keras's own names where Keras is installed), and the table of ``docs/keras.md`` is
``markdown_table()`` (``python -m minidl_keras.keras_api`` prints it).
"""

from __future__ import annotations

from .missing import KerasFeatureMissing

__all__ = [
    "KERAS_NAMES",
    "ABSENT",
    "BUILT_IN_LAYER_ABSENT",
    "HINTS",
    "KerasAbsent",
    "absent",
    "markdown_table",
]

_MODEL = (
    "add_loss add_metric add_variable add_weight build build_from_config call compile_from_config "
    "compute_dtype compute_loss compute_mask compute_metrics compute_output_shape compute_output_spec "
    "count_params dtype dtype_policy evaluate export fit from_config get_build_config get_compile_config "
    "get_config get_layer get_metrics_result get_quantization_layer_structure get_state_tree get_weights "
    "input input_dtype input_spec jit_compile layers load_own_variables load_weights losses "
    "make_predict_function make_test_function make_train_function metrics metrics_names "
    "metrics_variables non_trainable_variables non_trainable_weights output path predict "
    "predict_on_batch predict_step quantization_mode quantize quantized_build quantized_call "
    "rematerialized_call reset_metrics run_eagerly save save_own_variables save_weights set_state_tree "
    "set_weights stateless_call stateless_compute_loss summary supports_masking symbolic_call "
    "test_on_batch test_step to_json torch_params train_on_batch train_step trainable "
    "trainable_variables trainable_weights variable_dtype variables weights"
).split()

#: Keras 3.15.1's public names of each class (``torch.nn.Module``'s left out)
KERAS_NAMES: dict[str, list[str]] = {
    "Model": _MODEL,
    "Sequential": sorted({*_MODEL, "add", "input_shape", "inputs", "output_shape", "outputs", "pop"}),
    "Layer": (
        "add_loss add_metric add_variable add_weight build build_from_config call compute_dtype "
        "compute_mask compute_output_shape compute_output_spec count_params dtype dtype_policy "
        "from_config get_build_config get_config get_weights input input_dtype input_spec "
        "load_own_variables losses metrics metrics_variables non_trainable_variables "
        "non_trainable_weights output path quantization_mode quantize quantized_build quantized_call "
        "rematerialized_call save_own_variables set_weights stateless_call supports_masking "
        "symbolic_call torch_params trainable trainable_variables trainable_weights variable_dtype "
        "variables weights"
    ).split(),
    "Callback": (
        "model on_batch_begin on_batch_end on_epoch_begin on_epoch_end on_predict_batch_begin "
        "on_predict_batch_end on_predict_begin on_predict_end on_test_batch_begin on_test_batch_end "
        "on_test_begin on_test_end on_train_batch_begin on_train_batch_end on_train_begin on_train_end "
        "set_model set_params"
    ).split(),
    "Optimizer": (
        "add_optimizer_variables add_variable add_variable_from_reference apply_gradients assign "
        "assign_add assign_sub build exclude_from_weight_decay finalize_variable_values from_config "
        "get_config iterations learning_rate load_own_variables save_own_variables scale_loss "
        "set_weights stateless_apply update_step variables"
    ).split(),
}

_SAVE = "model.save(path) and keras.models.load_model(path) keep the model, its weights and its training state in one file"
_FLOAT32 = "minidl computes in float32 (float64 for gradient checks); read layer.params[key].dtype"
_STATELESS = (
    "minidl's layers hold their arrays (layer.params, layer.buffers) and run in place: "
    "model.forward(x) / model.backward(dy), or layer.forward / layer.backward"
)
_QUANTIZE = "minidl computes in float32: no quantization"
_LOOP = "fit, evaluate and predict run minidl's Trainer loop batch by batch; override train_step / test_step / predict_step"
_UPDATE = "optimizer.step(model) updates every trainable weight from its layer.grads (minidl.nn.optim)"

#: the closest minidl way for each name the door lacks
HINTS: dict[str, str] = {
    "add_loss": "add a penalty with kernel_regularizer= (or add_weight(regularizer=)), or compute the extra loss in a train_step override",
    "add_metric": "pass metrics to compile(metrics=[...]) or report them from a train_step override",
    "add_variable": "a custom layer's add_weight(shape, initializer, trainable=)",
    "add_weight": "a custom keras.layers.Layer holds the weights (add_weight in its build); a model holds layers",
    "build_from_config": _SAVE,
    "compile_from_config": _SAVE,
    "get_build_config": _SAVE,
    "get_compile_config": _SAVE,
    "load_own_variables": _SAVE,
    "save_own_variables": _SAVE,
    "compute_dtype": _FLOAT32,
    "variable_dtype": _FLOAT32,
    "input_dtype": _FLOAT32,
    "dtype_policy": _FLOAT32,
    "compute_mask": "masks flow between layers by minidl_keras.masking's rules (Embedding(mask_zero=True), Masking)",
    "supports_masking": "masks flow between layers by minidl_keras.masking's rules (Embedding(mask_zero=True), Masking)",
    "input_spec": "a layer checks its input's shape in forward (layer.check_input) and names the shape it expected",
    "compute_output_shape": "model.output_shape (or layer.compute_output_shape on a layer)",
    "compute_output_spec": "call the layer on a keras.Input: the KerasTensor it returns has the shape and dtype",
    "export": "model.save(path) writes minidl's .npz; there is no SavedModel or ONNX export",
    "get_metrics_result": "the dict fit's History records per epoch, or compute_metrics(x, y, y_pred) in a step",
    "metrics_variables": "metrics are objects with result() (keras.metrics), fed by fit and evaluate",
    "losses": "model.regularization_loss() is the sum of the weight and activity penalties",
    "make_predict_function": _LOOP,
    "make_test_function": _LOOP,
    "make_train_function": _LOOP,
    "jit_compile": "compile(jit_compile=...) is accepted and ignored: minidl runs NumPy (Numba kernels inside)",
    "run_eagerly": "compile(run_eagerly=...) is accepted and ignored: minidl always runs step by step",
    "path": "layer.name (a weight's own path is Weight.path: 'dense/W')",
    "quantization_mode": _QUANTIZE,
    "quantize": _QUANTIZE,
    "quantized_build": _QUANTIZE,
    "quantized_call": _QUANTIZE,
    "get_quantization_layer_structure": _QUANTIZE,
    "rematerialized_call": "minidl keeps every layer's cache for backward (no rematerialization)",
    "get_state_tree": _STATELESS,
    "set_state_tree": _STATELESS,
    "stateless_call": _STATELESS,
    "stateless_compute_loss": _STATELESS,
    "symbolic_call": "call the layer or model on a keras.Input (a KerasTensor): it records a node",
    "torch_params": "minidl has no PyTorch parameters: layer.params holds NumPy arrays",
    "metrics": "compile(metrics=[...]); a model's metrics are (name, metric) pairs",
    "call": "a keras.Sequential runs model.forward(x, training); model(x) calls it",
    "from_config": "Sequential.get_config() is read back by keras.models.load_model; model_from_json reads to_json()",
    "input": "the first layer's layer.input, once the model knows its input shape",
    "output": "the last layer's layer.output, once the model knows its input shape",
    "add_optimizer_variables": _UPDATE,
    "add_variable_from_reference": _UPDATE,
    "apply_gradients": _UPDATE
    + "; the gradients are the layers' own (layer.grads), written by model.backward",
    "assign": _UPDATE,
    "assign_add": _UPDATE,
    "assign_sub": _UPDATE,
    "build": _UPDATE + "; its state is made at each weight's first update",
    "exclude_from_weight_decay": "weight_decay= applies to every weight; freeze a layer (trainable=False) to leave it alone",
    "finalize_variable_values": _UPDATE,
    "scale_loss": "minidl computes in float32: no loss scaling",
    "set_weights": "the optimizer's state is saved and restored with the model (model.save, load_model)",
    "stateless_apply": _UPDATE,
    "update_step": _UPDATE + "; a subclass of minidl.nn.optim.Optimizer defines update(param, grad, state)",
    "variables": "optimizer.state holds each weight's moments (a dict by (layer id, key))",
}

#: per class, the Keras names the door does not have (``HINTS`` says the way)
ABSENT: dict[str, list[str]] = {
    "Model": (
        "add_loss add_metric add_variable add_weight build_from_config compile_from_config compute_dtype "
        "compute_mask compute_output_shape compute_output_spec dtype_policy export get_build_config "
        "get_compile_config get_metrics_result get_quantization_layer_structure get_state_tree input_dtype "
        "input_spec jit_compile load_own_variables make_predict_function "
        "make_test_function make_train_function metrics_variables path quantization_mode quantize "
        "quantized_build quantized_call rematerialized_call save_own_variables "
        "set_state_tree stateless_call stateless_compute_loss supports_masking symbolic_call torch_params "
        "variable_dtype"
    ).split(),
    "Sequential": (
        "add_loss add_metric add_variable add_weight build_from_config call compile_from_config "
        "compute_dtype compute_mask compute_output_shape compute_output_spec dtype_policy export from_config "
        "get_build_config get_compile_config get_metrics_result get_quantization_layer_structure "
        "get_state_tree input_dtype input_spec jit_compile load_own_variables make_predict_function "
        "make_test_function make_train_function metrics_variables path quantization_mode quantize "
        "quantized_build quantized_call rematerialized_call save_own_variables set_state_tree "
        "stateless_call stateless_compute_loss supports_masking symbolic_call torch_params variable_dtype"
    ).split(),
    "Layer": (
        "add_loss add_metric add_variable build_from_config compute_dtype compute_mask compute_output_spec "
        "dtype_policy get_build_config input_dtype input_spec load_own_variables losses metrics "
        "metrics_variables path quantization_mode quantize quantized_build quantized_call "
        "rematerialized_call save_own_variables stateless_call supports_masking symbolic_call torch_params "
        "variable_dtype"
    ).split(),
    "Callback": [],
    "Optimizer": (
        "add_optimizer_variables add_variable add_variable_from_reference apply_gradients assign "
        "assign_add assign_sub build exclude_from_weight_decay finalize_variable_values "
        "load_own_variables save_own_variables scale_loss set_weights stateless_apply update_step variables"
    ).split(),
}


#: Keras ``Layer`` names that a custom ``keras.layers.Layer`` has but the door's built-in layers
#: (minidl's classes with Keras's names) do not
BUILT_IN_LAYER_ABSENT: dict[str, str] = {
    "add_weight": "minidl's layers make their weights in build (layer.params); a keras.layers.Layer subclass has add_weight",
    "call": "layer.forward(x, training=...) computes (layer(x) calls it), layer.backward(dy) differentiates",
    "dtype": "minidl's layers are float32 unless built otherwise: layer.params[key].dtype",
    "path": HINTS["path"],
}


def absent(kind: str, obj, name: str) -> KerasFeatureMissing | None:
    """The error for reading Keras's ``name`` on ``obj`` (a door ``kind``: ``"Model"``, ...)
    when the door lacks it, else None."""
    if kind == "Layer" and name in BUILT_IN_LAYER_ABSENT and name not in ABSENT["Layer"]:
        label = getattr(obj, "name", None) or type(obj).__name__
        return KerasFeatureMissing(
            f"Layer.{name} ({label}) is not in minidl_keras's built-in layers: {BUILT_IN_LAYER_ABSENT[name]}"
        )
    if name not in ABSENT.get(kind, ()):
        return None
    label = getattr(obj, "name", None) or type(obj).__name__
    return KerasFeatureMissing(f"{kind}.{name} ({label}) is not in minidl_keras: {HINTS[name]}")


class KerasAbsent:
    """Mixin: ``__getattr__`` raises ``absent``'s error for a Keras name the door lacks
    (``keras_kind`` names the class's row of ``ABSENT``) and a plain ``AttributeError``
    otherwise; a property of the class that raised ``AttributeError`` raises its own error."""

    keras_kind = "Layer"

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        if any(name in vars(klass) for klass in type(self).__mro__):  # a property that raised:
            return object.__getattribute__(self, name)  # its own message, raised again
        error = absent(type(self).keras_kind, self, name)
        if error is not None:
            raise error
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def markdown_table() -> str:
    """The table of ``docs/keras.md``: each absent name, the classes that lack it, the way."""
    rows: dict[str, list[str]] = {}
    for kind, names in ABSENT.items():
        for name in names:
            rows.setdefault(name, []).append(kind)
    for name in BUILT_IN_LAYER_ABSENT:
        rows.setdefault(name, []).append("built-in layers")
    lines = ["| Keras name | lacking in | the closest minidl way |", "|---|---|---|"]
    for name in sorted(rows):
        hint = HINTS.get(name) or BUILT_IN_LAYER_ABSENT[name]
        lines.append(f"| `{name}` | {', '.join(rows[name])} | {hint} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m minidl_keras.keras_api: the table for docs/keras.md
    print(markdown_table())
