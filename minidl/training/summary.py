"""``model.summary()``: the table of layers, output shapes and parameter counts."""

from __future__ import annotations


def summary_table(model) -> str:
    """The summary of a built ``Sequential`` as one string: a row per layer (its name and
    type, the output shape with ``None`` for the batch axis, its number of parameters; frozen
    layers marked), then the totals, trainable and not."""
    if not model.built:
        raise ValueError(
            "summary needs a built model: pass input_shape=... to Sequential, "
            "call model.build(input_shape), or run one batch through it first"
        )
    rows = [("Layer (type)", "Output Shape", "Param #")]
    shape = model.sample_shape()
    for i, layer in enumerate(model.layers):
        shape = layer.output_shape_for(shape)
        label = f"{layer.name or type(layer).__name__.lower() + f'_{i}'} ({type(layer).__name__})"
        if not layer.trainable:
            label += " [frozen]"
        rows.append((label, str((None,) + tuple(shape)), f"{sum(layer.count_params()):,}"))
    widths = [max(len(r[c]) for r in rows) + 2 for c in range(3)]
    line = "=" * sum(widths)

    def fmt(r):
        return f"{r[0]:<{widths[0]}}{r[1]:<{widths[1]}}{r[2]:>{widths[2]}}"

    counts = [layer.count_params() for layer in model.layers]  # (a subclass's own may be one int)
    trainable, frozen = sum(c[0] for c in counts), sum(c[1] for c in counts)
    table = [f'Model: "{model.name or "sequential"}"', line, fmt(rows[0]), line, *map(fmt, rows[1:]), line]
    totals = {"Total": trainable + frozen, "Trainable": trainable, "Non-trainable": frozen}
    return "\n".join(table + [f"{kind} params: {count:,}" for kind, count in totals.items()])
