"""Keras' own input and output of every conv layer of a model on one forward pass, for
make_model_fixtures.py and check_keras_models.py. Works with Keras 3 and with Keras 2 (tf_keras).

A conv layer is named as halconv names it (include/halconv/model.h): its name, after the names of
the models that enclose it ("inner/sep").
"""
import numpy as np

CONV_CLASSES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")


def conv_layers(model, prefix=""):
    """[(halconv name, layer)] in the model's order, nested models' layers included."""
    found = []
    for layer in model.layers:
        if hasattr(layer, "layers") and type(layer).__name__ in ("Functional", "Sequential",
                                                                 "Model"):
            found += conv_layers(layer, prefix + layer.name + "/")
        elif type(layer).__name__ in CONV_CLASSES:
            found.append((prefix + layer.name, layer))
    return found


def capture(model, x):
    """{halconv name: (input, output)} of each conv layer on model(x), as float32 arrays."""
    seen = {}
    layers = conv_layers(model)
    originals = []
    for name, layer in layers:
        original = layer.call

        def wrapped(inputs, *args, _name=name, _original=original, **kwargs):
            outputs = _original(inputs, *args, **kwargs)
            seen[_name] = (np.asarray(inputs, dtype=np.float32),
                           np.asarray(outputs, dtype=np.float32))
            return outputs

        layer.call = wrapped
        originals.append((layer, original))
    try:
        model(x, training=False)
    finally:
        for layer, original in originals:
            layer.call = original
    missing = [name for name, _ in layers if name not in seen]
    if missing:
        raise RuntimeError("no forward call reached " + ", ".join(missing))
    return seen


def nonzero_input(rng, shape):
    magnitude = rng.uniform(0.05, 1.0, shape)
    return (magnitude * rng.choice([-1.0, 1.0], shape)).astype(np.float32)
