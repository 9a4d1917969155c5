#!/usr/bin/env bash
# Installs the build into a temporary prefix, then configures, builds and runs each example as a
# standalone consumer (find_package(halconv)), and a pkg-config consumer of the plain example.
set -euo pipefail
build="$1"
source="$2"
cmake="${3:-cmake}"  # the CMake that configured halconv (Halide 21 needs 3.28 or newer)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$cmake" --install "$build" --prefix "$work/prefix" >/dev/null
for example in plain engine custom_variant keras_model; do
  echo "== $example"
  "$cmake" -S "$source/examples/$example" -B "$work/$example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
  "$cmake" --build "$work/$example" >/dev/null
  "$work/$example/$example"
done
echo "== pkg-config"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
g++ -std=c++17 -I"$source/examples/common" "$source/examples/plain/main.cpp" -o "$work/plain_pc" \
    $(pkg-config --cflags --libs halconv) -Wl,-rpath,"$work/prefix/lib"
"$work/plain_pc"
