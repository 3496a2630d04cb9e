#!/usr/bin/env bash
# test.sh — runs every test: the unit, golden, CLI and MPI tests of build/
# (ctest), then the libFuzzer targets built with clang in build-fuzz/, each
# for LDM_FUZZ_SECONDS (default 60).
#   ./setup.sh && ./test.sh
set -euo pipefail
cd "$(dirname "$0")"
jobs=$(nproc)

cmake -S . -B build -DLDM_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" -LE fuzz)

# Fuzzing: the libraries are instrumented (fuzzer-no-link), targets linked
# with libFuzzer and ASan; only the fuzz-labelled tests run here.
CC=clang cmake -S . -B build-fuzz -DLDM_FUZZ=ON -DBUILD_TESTING=ON \
  -DLDM_FUZZ_SECONDS="${LDM_FUZZ_SECONDS:-60}" \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer" >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_all
(cd build-fuzz && ctest --output-on-failure -j"$jobs" -L fuzz)
