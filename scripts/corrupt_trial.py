#!/usr/bin/env python3
"""Feeds corrupted .npy files and configs to `halconv run` and checks every failure is clean:
exit status 1..127, a message on stderr, and no output file. Every fifth case is a Keras model
file instead (`run --model`): tests/models/tiny.keras truncated or with bytes flipped anywhere (the
archive's CRC-32 guards its entries), or a .h5 model truncated (libhdf5 is not hardened against
flipped bytes: docs/models.md). Standard library only.

usage: scripts/corrupt_trial.py [--cli build/release/halconv] [--cases 2000] [--seed 1]
"""
import argparse
import json
import os
import random
import subprocess
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def mutate_bytes(rng, data):
    data = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0 and data:  # truncate
        return bytes(data[: rng.randrange(len(data))])
    if kind == 1 and data:  # flip bytes, mostly in the header
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(min(len(data), 160))] = rng.randrange(256)
        return bytes(data)
    if kind == 2:  # rewrite the header's shape or dtype
        text = data[:128].decode("latin-1")
        for old, new in [("'<f4'", rng.choice(["'<c8'", "'|O'", "'<i4'", "'>f4'", "'<U3'", "'<f3'"])),
                         ("(", rng.choice(["(-1, ", "(99999999999, ", "(", "((", "(0, "])),
                         ("False", rng.choice(["True", "Nope", "0"]))]:
            if rng.random() < 0.5:
                text = text.replace(old, new, 1)
        return text.encode("latin-1") + bytes(data[128:])
    if kind == 3:  # garbage
        return bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
    if kind == 4 and len(data) > 8:  # version and header length
        data[6] = rng.choice([0, 1, 2, 3, 4, 255])
        data[8] = rng.randrange(256)
        return bytes(data)
    return bytes(data) + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))


def mutate_config(rng, config):
    c = json.loads(json.dumps(config))
    key = rng.choice(list(c.keys()) + ["filters", "kernel_size", "strides", "groups"])
    value = rng.choice([None, "x", -1, 0, 1.5, 2**40, 10**12, [], [1], [1, 2, 3], {}, True,
                        "SAME", "causal", "relu7", [0, 0], [3, "3"], [[[[[]]]]]])
    if rng.random() < 0.2:
        c.pop(key, None)
    else:
        c[key] = value
    text = json.dumps(c)
    if rng.random() < 0.1:
        text = text[: rng.randrange(len(text) + 1)]
    if rng.random() < 0.05:
        text = "[" * 5000 + "]" * 5000
    return text


def judge(cmd, out, tmp, counts, what):
    """Runs cmd and counts it as ran, clean_error or bad."""
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=60)
    exists = os.path.exists(out)
    leftovers = [n for n in os.listdir(tmp) if ".tmp." in n]
    if r.returncode == 0 and exists and not leftovers:
        counts["ran"] += 1
    elif 1 <= r.returncode <= 127 and r.stderr.strip() and not exists and not leftovers:
        counts["clean_error"] += 1
    else:
        counts["bad"] += 1
        print("BAD:", r.returncode, what, r.stderr.strip()[:200])
    if exists:
        os.remove(out)


def model_case(rng, cli, tmp, counts):
    models = os.path.join(ROOT, "tests", "models")
    name = rng.choice(["tiny.keras", "tiny.keras", "tiny.h5"])
    with open(os.path.join(models, name), "rb") as f:
        data = bytearray(f.read())
    if name.endswith(".h5") or rng.random() < 0.3:
        data = data[: rng.randrange(len(data))]
    else:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    mutated = os.path.join(tmp, "mutated_" + name)
    with open(mutated, "wb") as f:
        f.write(bytes(data))
    layer = rng.choice(["c1", "dw", "inner/sep", "c2", "c3", "dw5"])
    out = os.path.join(tmp, "out.npy")
    layer_input = os.path.join(models, "tiny.layers", layer.replace("/", "__") + ".input.npy")
    if not os.path.exists(layer_input):  # "c2" is inner/c2's last part
        layer_input = os.path.join(models, "tiny.layers", "inner__" + layer + ".input.npy")
    judge([cli, "run", "--model", mutated, "--layer", layer, "--input", layer_input,
           "--output", out], out, tmp, counts, name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "release", "halconv"))
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    golden = os.path.join(ROOT, "tests", "golden")
    cases = sorted(os.listdir(golden))
    counts = {"ran": 0, "clean_error": 0, "bad": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.cases):
            if i % 5 == 4:
                model_case(rng, args.cli, tmp, counts)
                continue
            case = os.path.join(golden, rng.choice(cases))
            files = {n: os.path.join(case, n) for n in ["config.json", "input.npy", "kernel.npy", "bias.npy"]}
            target = rng.choice(["config.json", "input.npy", "kernel.npy", "bias.npy"])
            if not os.path.exists(files[target]):
                target = "input.npy"
            mutated = os.path.join(tmp, "mutated_" + target)
            with open(files[target], "rb") as f:
                original = f.read()
            if target == "config.json":
                data = mutate_config(rng, json.loads(original)).encode()
            else:
                data = mutate_bytes(rng, original)
            with open(mutated, "wb") as f:
                f.write(data)
            files[target] = mutated
            out = os.path.join(tmp, "out.npy")
            cmd = [args.cli, "run", "--config", files["config.json"], "--input", files["input.npy"],
                   "--kernel", files["kernel.npy"], "--output", out]
            if os.path.exists(files["bias.npy"]):
                cmd += ["--bias", files["bias.npy"]]
            judge(cmd, out, tmp, counts, target)
    print(json.dumps(counts))
    return 1 if counts["bad"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
