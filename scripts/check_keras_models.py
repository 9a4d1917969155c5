#!/usr/bin/env python3
"""Checks halconv against Keras on real models: builds keras.applications MobileNetV2,
EfficientNetB0 and ResNet50 (weights=None, seeded), saves each as .keras and as legacy .h5, and
for every Conv2D, DepthwiseConv2D and SeparableConv2D layer runs

    halconv run --model FILE --layer NAME --input X.npy --output Y.npy

on that layer's real input in the model (captured on one forward pass of a seeded random image)
and compares with Keras' output of the layer: max |halconv - keras| / max |keras| <= 1e-4.
Prints one line per model file and the counts; exits 1 on any failure. Needs Keras 3 and
TensorFlow (pip install keras tensorflow-cpu); CI does not run it (the models are large).

With --keras 2 the models come from Keras 2 (pip install tf_keras) instead, as .h5 and as Keras 2's
own .keras files. Xception (--models Xception) has SeparableConv2D layers.

usage: scripts/check_keras_models.py [--cli build/release/halconv] [--models MobileNetV2,...]
                                     [--keras 3|2] [--work DIR] [--tolerance 1e-4]
"""
import argparse
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
from keras_capture import capture, conv_layers, nonzero_input  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = ["MobileNetV2", "EfficientNetB0", "ResNet50"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", default=os.path.join(ROOT, "build", "release", "halconv"))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--work", default=None, help="where the model files go (a temp folder)")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--keras", type=int, choices=[2, 3], default=3)
    args = parser.parse_args()
    if args.keras == 2:
        import tf_keras as keras
    else:
        import keras

    work = args.work or tempfile.mkdtemp(prefix="halconv_models_")
    os.makedirs(work, exist_ok=True)
    failures, checked = [], 0
    counts = {}
    for model_name in args.models.split(","):
        keras.utils.set_random_seed(20261208)  # weights=None: seeded initializers
        model = getattr(keras.applications, model_name)(weights=None)
        rng = np.random.default_rng(20261208)
        x = nonzero_input(rng, (1,) + tuple(model.input_shape[1:]))
        seen = capture(model, x)
        classes = {}
        for _, layer in conv_layers(model):
            classes[type(layer).__name__] = classes.get(type(layer).__name__, 0) + 1
        counts[model_name] = classes
        for ext in ["keras", "h5"]:
            path = os.path.join(work, f"{model_name}_keras{args.keras}.{ext}")
            model.save(path)
            worst, worst_layer, ok = 0.0, "", 0
            for name, _ in conv_layers(model):
                layer_in, expected = seen[name]
                stem = os.path.join(work, name.replace("/", "__"))
                np.save(stem + ".input.npy", layer_in)
                out = stem + ".halconv.npy"
                if os.path.exists(out):
                    os.remove(out)
                run = subprocess.run([args.cli, "run", "--model", path, "--layer", name,
                                      "--input", stem + ".input.npy", "--output", out],
                                     capture_output=True, text=True)
                checked += 1
                if run.returncode != 0:
                    failures.append(f"{path} {name}: exit {run.returncode}: {run.stderr.strip()}")
                    continue
                got = np.load(out)
                if got.shape != expected.shape:
                    failures.append(f"{path} {name}: shape {got.shape}, Keras {expected.shape}")
                    continue
                error = float(np.max(np.abs(got.astype(np.float64) - expected)) /
                              max(float(np.max(np.abs(expected))), 1e-30))
                if error > worst:
                    worst, worst_layer = error, name
                if error > args.tolerance:
                    failures.append(f"{path} {name}: relative error {error:.3g}")
                else:
                    ok += 1
            total = len(conv_layers(model))
            print(f"{os.path.basename(path)}: {ok}/{total} conv layers within {args.tolerance:g} "
                  f"({', '.join(f'{n} {c}' for c, n in sorted(classes.items()))}); "
                  f"worst {worst:.2e} ({worst_layer})", flush=True)
    print(f"checked {checked} layer runs, {len(failures)} failures")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
