#!/usr/bin/env python3
"""Writes golden DepthwiseConv2D and SeparableConv2D cases from the real Keras 3 (TensorFlow
backend) into tests/golden_layers/.

Each case is a folder: config.json (the layer's get_config(), wrapped as {"class_name": ...,
"config": ...} in every other case, bare in the rest, so both forms are read), input.npy, one .npy
per weight under Keras' weight name (kernel / depthwise_kernel, pointwise_kernel, bias) and
expected.npy. Run it where PyPI is reachable; CI only reads the committed files. channels_first
cases run the weights through a channels_last layer on the transposed input (TensorFlow's CPU
kernels run no channels_first convolution), transpose back and apply the activation, as
make_golden.py does.
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import keras, np, run_keras  # noqa: E402  (installs Keras)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden_layers")
CLASSES = {"DepthwiseConv2D": keras.layers.DepthwiseConv2D,
           "SeparableConv2D": keras.layers.SeparableConv2D}


def weight_names(cls, use_bias):
    names = ["kernel"] if cls == "DepthwiseConv2D" else ["depthwise_kernel", "pointwise_kernel"]
    return names + (["bias"] if use_bias else [])


def write_case(index, name, cls, input_shape, rng, **kwargs):
    layer, x, weights, y = run_keras(CLASSES[cls], input_shape, rng, **kwargs)
    folder = os.path.join(OUT, name)
    os.makedirs(folder)
    config = layer.get_config()
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"class_name": cls, "config": config} if index % 2 == 0 else config, f)
    np.save(os.path.join(folder, "input.npy"), x)
    for weight_name, w in zip(weight_names(cls, kwargs.get("use_bias", True)), weights):
        np.save(os.path.join(folder, weight_name + ".npy"), w)
    np.save(os.path.join(folder, "expected.npy"), y.astype(np.float32))


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    rng = np.random.default_rng(20261207)
    cases = []
    for fmt in ["channels_last", "channels_first"]:
        def shape(n, h, w, c):
            return (n, c, h, w) if fmt == "channels_first" else (n, h, w, c)
        tag = "nchw" if fmt == "channels_first" else "nhwc"
        # MobileNetV2 / EfficientNet's depthwise layers: 3x3 and 5x5, strides 1 and 2.
        cases += [
            (f"dw3_s1_same_{tag}", "DepthwiseConv2D", shape(2, 9, 8, 16),
             dict(kernel_size=3, padding="same", activation="relu6")),
            (f"dw3_s2_same_{tag}", "DepthwiseConv2D", shape(1, 9, 10, 24),
             dict(kernel_size=3, strides=2, padding="same", use_bias=False)),
            (f"dw5_s1_same_{tag}", "DepthwiseConv2D", shape(1, 11, 7, 8),
             dict(kernel_size=5, padding="same", activation="swish")),
            (f"dw5_s2_valid_{tag}", "DepthwiseConv2D", shape(1, 12, 13, 5),
             dict(kernel_size=5, strides=2, padding="valid")),
            (f"dw3_m3_dil2_{tag}", "DepthwiseConv2D", shape(1, 10, 9, 3),
             dict(kernel_size=3, depth_multiplier=3, dilation_rate=2, padding="same")),
            (f"sep3_{tag}", "SeparableConv2D", shape(2, 8, 9, 6),
             dict(filters=10, kernel_size=3, padding="same", activation="relu")),
            (f"sep5_s2_m2_{tag}", "SeparableConv2D", shape(1, 11, 10, 4),
             dict(filters=7, kernel_size=5, strides=2, depth_multiplier=2, use_bias=False)),
            (f"sep3x1_dil_{tag}", "SeparableConv2D", shape(1, 9, 8, 5),
             dict(filters=3, kernel_size=(3, 1), dilation_rate=(2, 1), padding="same",
                  activation="tanh")),
        ]
    for index, (name, cls, input_shape, kwargs) in enumerate(cases):
        fmt = "channels_first" if name.endswith("nchw") else "channels_last"
        write_case(index, name, cls, input_shape, rng, data_format=fmt, **kwargs)
    print("wrote", len(os.listdir(OUT)), "cases to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
