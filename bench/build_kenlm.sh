#!/usr/bin/env bash
# Build KenLM's lmplz, build_binary and query, the peer of bench/bench_ngram.py and
# bench/bench_scale.py, outside this repository.
#
#   bash bench/build_kenlm.sh BUILD_DIR [KENLM_SOURCE]
#
# The binaries land in BUILD_DIR/bin (bench_scale.py looks in /work/kenlm/build/bin by
# default).  Without KENLM_SOURCE, https://github.com/kpu/kenlm is cloned into
# BUILD_DIR/kenlm-src at KENLM_COMMIT (the commit bench/README.md's scale figures used).
# Build dependencies (Debian/Ubuntu):
#   apt-get install cmake g++ libboost-program-options-dev libboost-system-dev \
#     libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev libeigen3-dev
set -euo pipefail

build=${1:?usage: build_kenlm.sh BUILD_DIR [KENLM_SOURCE]}
src=${2:-}
commit=${KENLM_COMMIT:-4cb443e60b7bf2c0ddf3c745378f76cb59e254e5}

if [ -z "$src" ]; then
    src=$build/kenlm-src
    mkdir -p "$build"
    # A full clone (not --depth 1) so that the pinned commit can be checked out.
    [ -d "$src/.git" ] || git clone https://github.com/kpu/kenlm "$src"
    git -C "$src" checkout --quiet "$commit"
fi
[ -f "$src/CMakeLists.txt" ] || { echo "build_kenlm.sh: $src is not a KenLM source folder" >&2; exit 1; }

# Release: the benchmarks time these binaries.  cmake finds Boost, zlib, bzip2 and lzma
# (compressed ARPA/corpus input) and says which one is missing.
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release
# Only the three programs the benchmarks run: the whole tree (tests, filter, interpolate)
# takes several times longer on a 2-core machine.
make -C "$build" -j"${JOBS:-2}" lmplz build_binary query

# Smoke test: a 2-gram from three words (--discount_fallback: so tiny a text has no
# count-of-counts to estimate discounts from).
echo "a b c" | "$build/bin/lmplz" -o 2 --discount_fallback 2>/dev/null | grep -q '^\\2-grams:' \
    || { echo "build_kenlm.sh: $build/bin/lmplz built but did not write an ARPA file" >&2; exit 1; }
echo "built: $build/bin/lmplz $build/bin/build_binary $build/bin/query"
