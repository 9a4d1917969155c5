#!/usr/bin/env python3
"""Writes the small Keras model files the tests read into tests/models/.

tiny.keras and tiny.h5 (Keras 3), tiny_keras2.h5 (Keras 2 through tf_keras, when installed): a
Functional model with Conv2D, DepthwiseConv2D (stride 2, depth_multiplier 2), a nested Sequential
holding a SeparableConv2D and a 1x1 Conv2D, a grouped Conv2D with an even kernel (TensorFlow's
asymmetric SAME) and a 5x5 DepthwiseConv2D. For each file, <file>.layers.json lists the conv layers
as halconv names them with their recorded input shapes, and <file>/<layer>.{input,output}.npy hold
Keras' own input and output of each conv layer on one forward pass of the model.
bad/ holds broken files for the error tests; tests/fuzz/corpus/model/ the fuzz_model seeds that
rebuild these files. It also writes examples/keras_model/net.keras, the
small MobileNet-like model of the example project. Run it with Keras 3.15 and TensorFlow installed (and
tf_keras for the Keras 2 file); CI only reads the committed files.
"""
import io
import json
import os
import shutil
import sys
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h5py  # noqa: E402
import numpy as np  # noqa: E402
from keras_capture import capture, conv_layers, nonzero_input  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "models")
INPUT_SHAPE = (2, 13, 12, 3)


def build(k):
    """The tiny model in the Keras module k (keras, or tf_keras for Keras 2)."""
    inp = k.Input(INPUT_SHAPE[1:])
    x = k.layers.Conv2D(8, 3, padding="same", activation="hard_sigmoid", name="c1")(inp)
    x = k.layers.BatchNormalization(name="bn")(x)
    x = k.layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, activation="relu6",
                                 name="dw")(x)
    inner = k.Sequential([k.layers.SeparableConv2D(6, 3, padding="same", activation="swish",
                                                   name="sep"),
                          k.layers.Conv2D(4, 1, use_bias=False, name="c2")], name="inner")
    x = inner(x)
    x = k.layers.Conv2D(6, 2, padding="same", groups=2, activation="tanh", name="c3")(x)
    x = k.layers.DepthwiseConv2D(5, padding="same", use_bias=False, name="dw5")(x)
    return k.Model(inp, x, name="tiny")


def build_example(k):
    """The example project's model: a stem, an inverted residual block, a separable layer."""
    inp = k.Input((32, 32, 3))
    x = k.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="stem")(inp)
    x = k.layers.DepthwiseConv2D(3, padding="same", activation="relu6", name="block_dw")(x)
    x = k.layers.Conv2D(24, 1, name="block_project")(x)
    x = k.layers.SeparableConv2D(32, 3, padding="same", activation="relu", name="sep")(x)
    x = k.layers.DepthwiseConv2D(5, strides=2, padding="same", name="down_dw")(x)
    x = k.layers.Conv2D(8, 1, activation="sigmoid", name="head")(x)
    return k.Model(inp, x, name="net")


def randomize(model, rng):
    """Nonzero random weights everywhere, BatchNormalization's variance kept positive."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            randomize(layer, rng)
            continue
        weights = [nonzero_input(rng, w.shape) for w in layer.get_weights()]
        if type(layer).__name__ == "BatchNormalization":
            weights[-1] = np.abs(weights[-1]) + 0.5
        layer.set_weights(weights)


def write_goldens(model, file_name, x):
    folder = os.path.join(OUT, file_name + ".layers")
    os.makedirs(folder)
    listing = []
    seen = capture(model, x)
    for name, layer in conv_layers(model):
        listing.append({"name": name, "class_name": type(layer).__name__})
        layer_in, layer_out = seen[name]
        stem = name.replace("/", "__")
        np.save(os.path.join(folder, stem + ".input.npy"), layer_in)
        np.save(os.path.join(folder, stem + ".output.npy"), layer_out)
    with open(os.path.join(folder, "layers.json"), "w") as f:
        json.dump(listing, f, indent=1)


def rewrite_archive(source, target, change):
    """A copy of the .keras archive source with change(name, bytes) -> bytes (None drops it)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = change(item.filename, zin.read(item.filename))
            if data is not None:
                zout.writestr(item, data)


def edit_weights(data, edit):
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as f:
        edit(f)
    return buffer.getvalue()


def write_bad_files():
    bad = os.path.join(OUT, "bad")
    os.makedirs(bad)
    good = os.path.join(OUT, "tiny.keras")
    raw = open(good, "rb").read()
    open(os.path.join(bad, "truncated.keras"), "wb").write(raw[: len(raw) * 3 // 5])
    h5 = open(os.path.join(OUT, "tiny.h5"), "rb").read()
    open(os.path.join(bad, "truncated.h5"), "wb").write(h5[: len(h5) // 2])
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("model.weights.h5")
        weights = z.read("model.weights.h5")
    # One flipped byte inside the stored weights entry: its CRC-32 no longer matches.
    flipped = bytearray(raw)
    flipped[info.header_offset + 30 + len(info.filename) + len(weights) // 2] ^= 0x5A
    open(os.path.join(bad, "corrupt.keras"), "wb").write(bytes(flipped))
    open(os.path.join(bad, "weights_only.h5"), "wb").write(weights)
    open(os.path.join(bad, "not_a_model.keras"), "wb").write(b"just some text\n")

    rewrite_archive(good, os.path.join(bad, "config_not_json.keras"),
                    lambda n, d: b"{\"class_name\": \"Functional\", " if n == "config.json" else d)

    def mixed(n, d):
        if n != "config.json":
            return d
        config = json.loads(d)
        config["config"]["layers"][1]["config"]["dtype"]["config"]["name"] = "mixed_float16"
        return json.dumps(config).encode()
    rewrite_archive(good, os.path.join(bad, "mixed_precision.keras"), mixed)

    def drop_bias(f):
        del f["layers/conv2d/vars/1"]
    rewrite_archive(good, os.path.join(bad, "missing_weight.keras"),
                    lambda n, d: edit_weights(d, drop_bias) if n == "model.weights.h5" else d)

    def misshape(f):
        del f["layers/depthwise_conv2d/vars/0"]
        f["layers/depthwise_conv2d/vars/0"] = np.ones((3, 3, 8, 3), np.float32)
    rewrite_archive(good, os.path.join(bad, "misshaped_weight.keras"),
                    lambda n, d: edit_weights(d, misshape) if n == "model.weights.h5" else d)


def fuzz_seed(h5_path, config, mode):
    """A fuzz_model input (tests/fuzz/fuzz_model.cpp) that rebuilds the HDF5 file at h5_path."""
    spec = bytearray([mode])

    def add_path(kind, path):
        spec.extend([kind, len(path)])
        spec.extend(path.encode())

    with h5py.File(h5_path, "r") as f:
        def visit(name, obj):
            for attr, value in obj.attrs.items():
                if attr in ("model_config", "keras_version", "backend", "training_config"):
                    continue
                values = [v.decode() if isinstance(v, bytes) else str(v)
                          for v in (value if hasattr(value, "__len__") and
                                    not isinstance(value, (str, bytes)) else [value])]
                add_path(1 if attr != "name" else 2, f"{name}/{attr}")
                spec.append(len(values))
                for v in values:
                    spec.append(len(v))
                    spec.extend(v.encode())
            if isinstance(obj, h5py.Dataset):
                add_path(0, name)
                spec.extend([0, len(obj.shape)] + list(obj.shape))
        f.visititems(visit)
    return config.encode() + b"\0" + bytes(spec)


def write_fuzz_seeds():
    corpus = os.path.join(OUT, "..", "fuzz", "corpus", "model")
    shutil.rmtree(corpus, ignore_errors=True)
    os.makedirs(corpus)
    legacy = os.path.join(OUT, "tiny.h5")
    with h5py.File(legacy, "r") as f:
        config = f.attrs["model_config"]
    open(os.path.join(corpus, "legacy_h5"), "wb").write(fuzz_seed(legacy, config, 0))
    keras2 = os.path.join(OUT, "tiny_keras2.h5")
    if os.path.exists(keras2):
        with h5py.File(keras2, "r") as f:
            config2 = f.attrs["model_config"]
        open(os.path.join(corpus, "keras2_h5"), "wb").write(fuzz_seed(keras2, config2, 8 | 4))
    archive = os.path.join(OUT, "tiny.keras")
    with zipfile.ZipFile(archive) as z:
        config = z.read("config.json").decode()
        weights = os.path.join(OUT, "weights.tmp.h5")
        open(weights, "wb").write(z.read("model.weights.h5"))
    open(os.path.join(corpus, "keras"), "wb").write(fuzz_seed(weights, config, 1))
    os.remove(weights)
    open(os.path.join(corpus, "zip_bytes"), "wb").write(b"\0\2" + open(archive, "rb").read())


def main():
    import keras
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    rng = np.random.default_rng(20261208)
    x = nonzero_input(rng, INPUT_SHAPE)
    keras.utils.set_random_seed(1)
    model = build(keras)
    randomize(model, rng)
    model.save(os.path.join(OUT, "tiny.keras"))
    model.save(os.path.join(OUT, "tiny.h5"))
    write_goldens(model, "tiny", x)
    try:
        import tf_keras
    except ImportError:
        print("tf_keras is not installed: no Keras 2 file written")
    else:
        model2 = build(tf_keras)
        randomize(model2, rng)
        model2.save(os.path.join(OUT, "tiny_keras2.h5"))
        write_goldens(model2, "tiny_keras2", x)
    write_bad_files()
    write_fuzz_seeds()
    example = build_example(keras)
    randomize(example, rng)
    example.save(os.path.join(OUT, "..", "..", "examples", "keras_model", "net.keras"))


if __name__ == "__main__":
    main()
