#!/usr/bin/env python3
"""Writes golden Conv2D cases from the real Keras 3 (TensorFlow backend) into tests/golden/.

Each case is a folder: config.json (Conv2D.get_config()), input.npy, kernel.npy, [bias.npy],
expected.npy. Run it where PyPI is reachable; CI only reads the committed files.

TensorFlow's CPU kernels do not run channels_first convolutions, so a channels_first case runs the
same weights through a channels_last layer on the transposed input, transposes the result back and
then applies the activation to it, which is what Conv2D.call() does after its convolution (the axis
activations then act on the width, as in Keras).
"""
import json
import os
import shutil
import subprocess
import sys

try:
    import keras  # noqa: F401
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "keras", "tensorflow-cpu"])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import keras  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden")
ACTIVATIONS = ["linear", "relu", "relu6", "leaky_relu", "elu", "celu", "selu", "sigmoid", "tanh",
               "softplus", "softsign", "silu", "swish", "hard_silu", "hard_swish", "gelu",
               "exponential", "mish", "log_sigmoid", "hard_tanh", "tanh_shrink", "soft_shrink",
               "hard_shrink", "squareplus", "sparse_plus", "sparse_sigmoid", "hard_sigmoid",
               "softmax", "log_softmax", "sparsemax", "glu"]


def nonzero_uniform(rng, shape):
    magnitude = rng.uniform(0.05, 1.0, shape)
    return (magnitude * rng.choice([-1.0, 1.0], shape)).astype(np.float32)


def run_keras(layer_class, input_shape, rng, **kwargs):
    """The layer, random nonzero input and weights, and Keras' output: (layer, x, weights, y).
    A channels_first layer runs as described above."""
    layer = layer_class(**kwargs)
    channels_first = kwargs.get("data_format") == "channels_first"
    x = nonzero_uniform(rng, input_shape)
    nhwc_kwargs = dict(kwargs, data_format="channels_last", activation="linear")
    runner = layer_class(**nhwc_kwargs) if channels_first else layer
    x_nhwc = np.transpose(x, (0, 2, 3, 1)) if channels_first else x
    runner.build(x_nhwc.shape)
    weights = [nonzero_uniform(rng, w.shape) for w in runner.get_weights()]
    runner.set_weights(weights)
    if channels_first:
        conv = np.transpose(np.asarray(runner(x_nhwc)), (0, 3, 1, 2))
        y = np.asarray(keras.activations.get(kwargs.get("activation", "linear"))(conv))
    else:
        y = np.asarray(layer(x))
    return layer, x, weights, y


def write_case(name, input_shape, rng, **kwargs):
    layer, x, weights, y = run_keras(keras.layers.Conv2D, input_shape, rng, **kwargs)
    folder = os.path.join(OUT, name)
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(layer.get_config(), f)
    np.save(os.path.join(folder, "input.npy"), x)
    np.save(os.path.join(folder, "kernel.npy"), weights[0])
    if len(weights) > 1:
        np.save(os.path.join(folder, "bias.npy"), weights[1])
    np.save(os.path.join(folder, "expected.npy"), y.astype(np.float32))


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    rng = np.random.default_rng(20261124)
    for i, act in enumerate(ACTIVATIONS):
        fmt = "channels_first" if i % 2 else "channels_last"
        shape = (2, 6, 7, 9) if fmt == "channels_first" else (2, 7, 8, 6)
        write_case(f"act_{act}_{fmt}", shape, rng, filters=10, kernel_size=3, padding="same",
                   data_format=fmt, activation=act)
    for fmt in ["channels_last", "channels_first"]:
        def shape(n, h, w, c):
            return (n, c, h, w) if fmt == "channels_first" else (n, h, w, c)
        tag = "nchw" if fmt == "channels_first" else "nhwc"
        for padding in ["valid", "same"]:
            for size in [7, 8]:
                write_case(f"s2_{padding}_{size}_{tag}", shape(1, size, size + 1, 5), rng,
                           filters=9, kernel_size=3, strides=2, padding=padding, data_format=fmt)
        write_case(f"k1_{tag}", shape(2, 5, 6, 17), rng, filters=33, kernel_size=1,
                   data_format=fmt, activation="relu")
        write_case(f"k1_s2_{tag}", shape(1, 9, 9, 8), rng, filters=16, kernel_size=1, strides=2,
                   data_format=fmt)
        write_case(f"k2_{tag}", shape(1, 6, 6, 3), rng, filters=4, kernel_size=2, data_format=fmt)
        write_case(f"k5x2_{tag}", shape(1, 9, 8, 4), rng, filters=7, kernel_size=(5, 2),
                   strides=(1, 2), padding="same", data_format=fmt)
        write_case(f"dil2_{tag}", shape(1, 10, 9, 6), rng, filters=8, kernel_size=3,
                   dilation_rate=2, padding="same", data_format=fmt)
        write_case(f"dil_3x1_{tag}", shape(1, 11, 9, 4), rng, filters=5, kernel_size=3,
                   dilation_rate=(3, 1), data_format=fmt, use_bias=False)
        write_case(f"groups4_{tag}", shape(1, 7, 6, 8), rng, filters=12, kernel_size=3, groups=4,
                   padding="same", data_format=fmt)
        write_case(f"depthwise_{tag}", shape(2, 8, 7, 16), rng, filters=16, kernel_size=3,
                   groups=16, padding="same", data_format=fmt, activation="relu6")
        write_case(f"depthwise_x2_{tag}", shape(1, 6, 6, 5), rng, filters=10, kernel_size=3,
                   groups=5, strides=2, padding="same", data_format=fmt)
        write_case(f"tiny_{tag}", shape(1, 1, 1, 1), rng, filters=1, kernel_size=1,
                   data_format=fmt, use_bias=False)
        write_case(f"big_kernel_same_{tag}", shape(1, 3, 2, 2), rng, filters=3, kernel_size=(7, 4),
                   padding="same", data_format=fmt)
    print("wrote", len(os.listdir(OUT)), "cases to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
