#!/usr/bin/env bash
# The GPU check in one call: on a Linux machine with an NVIDIA GPU, install what it needs (the CUDA
# build of torch, then the project), run the backend agreement tests on CUDA, `dexbridge bench
# --backend cuda torch` and a few hundred training steps with --device cuda on a small rendered
# dataset; write OUTDIR/gpu_check.json and OUTDIR/gpu_check.log. About 3-4 minutes of installing on
# a fresh machine, 3-5 minutes of checks (docs/results.md, GPU figures).
#
#   scripts/gpu_check.sh OUTDIR [--cpu] [--voices N] [--steps N] [--batch N] [--iterations N] [--threads N] [--budget-s S]
#
# --cpu runs every check it can on the CPU (CUDA hidden) and installs no CUDA build: CI runs it so.
# The interpreter: $PYTHON, else this checkout's .venv when its torch fits (CUDA available, or --cpu),
# else .venv-gpu, made here; a CPU-only .venv is never given a CUDA build. Installing: torch
# $TORCH_VERSION (default 2.13.0) from $TORCH_INDEX_URL (default the cu128 wheels of download.pytorch.org)
# when the interpreter's torch sees no GPU, the project (editable, with its test and onnx extras)
# when it is missing. Exit status: 0 when every check passed.
set -euo pipefail

if [[ $# -lt 1 || $1 == -* ]]; then
    echo "usage: $0 OUTDIR [--cpu] [--voices N] [--steps N] [--batch N] [--iterations N] [--threads N] [--budget-s S]" >&2
    exit 2
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$1
shift
cpu=0
for arg in "$@"; do
    [[ $arg == --cpu ]] && cpu=1
done
mkdir -p "$out"
log="$out/gpu_check.log"
: >"$log"
say() { echo "gpu_check: $*" | tee -a "$log" >&2; }

torch_fits() {  # the interpreter $1 has torch, with CUDA unless --cpu
    local test="import torch"
    [[ $cpu == 1 ]] || test="import torch, sys; sys.exit(not torch.cuda.is_available())"
    "$1" -c "$test" >>"$log" 2>&1
}

python=${PYTHON:-}
if [[ -z $python ]]; then
    if [[ -x $repo/.venv/bin/python ]] && torch_fits "$repo/.venv/bin/python"; then
        python=$repo/.venv/bin/python
    else
        [[ -x $repo/.venv-gpu/bin/python ]] || { say "making $repo/.venv-gpu"; python3 -m venv "$repo/.venv-gpu"; }
        python=$repo/.venv-gpu/bin/python
    fi
fi
say "python: $python"

if ! torch_fits "$python"; then
    if [[ $cpu == 1 ]]; then
        say "installing torch ${TORCH_VERSION:-2.13.0} (CPU build)"
        "$python" -m pip install --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION:-2.13.0}" >>"$log" 2>&1
    else
        command -v nvidia-smi >/dev/null || { say "no NVIDIA driver (nvidia-smi not found): run with --cpu"; exit 2; }
        index=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cu128}
        say "installing torch ${TORCH_VERSION:-2.13.0} from $index"
        "$python" -m pip install --index-url "$index" "torch==${TORCH_VERSION:-2.13.0}" >>"$log" 2>&1
        torch_fits "$python" || { say "torch installed but sees no CUDA device: check the driver (nvidia-smi)"; exit 1; }
    fi
fi
if ! (cd "$out" && "$python" -c "import bridge.commands.cli, onnxruntime, pytest") >>"$log" 2>&1; then
    say "installing the project ($repo[test,onnx])"
    "$python" -m pip install -e "$repo[test,onnx]" >>"$log" 2>&1
fi

cd "$repo"
exec "$python" scripts/gpu_check.py "$out" "$@"
