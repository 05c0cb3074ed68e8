"""Keras's ``fit``/``evaluate``/``train_on_batch`` signatures over minidl's ``Trainer``: what
``keras.Sequential`` and ``keras.Model`` share.

The loop itself is ``Trainer``'s (``minidl.training.trainer``); this mixin only takes the
arguments in Keras's order -- ``fit(x, y, batch_size, epochs, ...)``; minidl's own ``fit``
takes everything after ``x, y`` by name -- and lets the model pack what it is given first, through
one hook: ``_pack(x)`` and ``_pack_y(y)`` (a ``keras.Model`` with several inputs or outputs
turns lists and dicts of arrays into one sliceable column set; a ``Sequential`` takes arrays
as they are).
"""

from __future__ import annotations

from minidl.training import trainer as _trainer

__all__ = ["KerasFit"]


def _first_array(x):
    """The first array of ``x`` (an array, or a list or dict of arrays, one per input)."""
    if isinstance(x, dict):
        return next(iter(x.values()))
    if isinstance(x, (list, tuple)):
        return x[0]
    return x


class KerasFit:
    """Mixin before ``Trainer`` in a Keras model's bases (``class Model(KerasFit, ..., Trainer)``)."""

    def _pack(self, data):
        """``x`` (or a validation ``x``) as ``Trainer`` slices it; unchanged by default."""
        return data

    def _pack_y(self, y):
        """``y`` as ``Trainer`` slices it; ``_pack``'s by default."""
        return self._pack(y)

    # Keras 3's positional order (x, y, batch_size, epochs); minidl's Trainer.fit takes them by name
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        **minidl_options,
    ):
        """Keras's ``fit``, its positional arguments in Keras's order (x, y, batch_size, epochs, ...);
        ``minidl_options`` are minidl's own (``augment=``)."""
        if isinstance(validation_data, (tuple, list)):
            xv, yv, *wv = validation_data
            validation_data = (self._pack(xv), self._pack_y(yv), *wv)
        return super().fit(  # type: ignore[misc]
            self._pack(x),
            self._pack_y(y),
            epochs=epochs,
            batch_size=batch_size,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            validation_data=validation_data,
            shuffle=shuffle,
            class_weight=class_weight,
            sample_weight=sample_weight,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            **minidl_options,
        )

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
    ):
        """Keras's ``evaluate``, its arguments in Keras's order: the loss, ``[loss, *metrics]``
        with metrics, or a dict with ``return_dict=True``."""
        return super().evaluate(  # type: ignore[misc]
            self._pack(x),
            self._pack_y(y),
            batch_size,
            0 if verbose == "auto" else verbose,
            sample_weight,
            steps,
            return_dict=return_dict,
            callbacks=callbacks,
        )

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch. Returns what Keras 3 returns: the loss when the model
        has no metrics, ``[loss, *metrics]`` when it has, a dict with ``return_dict=True`` --
        the metrics of this batch's predictions before the step (Keras resets them each call)."""
        if not self.metrics and not return_dict:  # type: ignore[attr-defined]
            return super().train_on_batch(self._pack(x), self._pack_y(y), sample_weight, class_weight)  # type: ignore[misc]
        self._require_compiled("train_on_batch")  # type: ignore[attr-defined]
        x, y = self._pack(x), self._pack_y(y)
        weights = _trainer._sample_weights(y, sample_weight, class_weight, "train_on_batch")
        xb, yb = self._to_device(self._as_input(x)), self._to_device(y)  # type: ignore[attr-defined]
        loss, y_pred = self._train_step(xb, yb, None if weights is None else self._to_device(weights))  # type: ignore[attr-defined]
        tally = _trainer.Tally(self.metrics)  # type: ignore[attr-defined]
        tally.add(loss, 1, y_pred, yb)
        logs = tally.logs()
        return logs if return_dict else list(logs.values())

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """``evaluate`` on one batch, as one batch: the loss, ``[loss, *metrics]`` or a dict."""
        n = len(_trainer._as_batch(_first_array(x), "test_on_batch"))
        return self.evaluate(
            x, y, batch_size=n, verbose=0, sample_weight=sample_weight, return_dict=return_dict
        )

    def predict_on_batch(self, x):
        """``predict`` on one batch, as one batch."""
        n = len(_trainer._as_batch(_first_array(x), "predict_on_batch"))
        return self.predict(x, batch_size=n, verbose=0)  # type: ignore[attr-defined]

    def reset_metrics(self) -> None:
        """Keras's ``reset_metrics``. minidl keeps no metric state between calls: ``fit``'s
        epochs, ``evaluate`` and ``train_on_batch`` each start their metrics afresh, so there is
        nothing to reset."""

    @property
    def metrics_names(self) -> list:
        """``["loss", <metric names>]``, the order of ``evaluate``'s list."""
        return ["loss"] + [name for name, _ in self.metrics]  # type: ignore[attr-defined]

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` (or at ``index`` of ``layers``)."""
        layers = self.layers  # type: ignore[attr-defined]
        if index is not None:
            return layers[index]
        for layer in layers:
            if getattr(layer, "name", None) == name:
                return layer
        raise ValueError(
            f"no layer named {name!r}; the layers are {[getattr(x, 'name', None) for x in layers]}"
        )
