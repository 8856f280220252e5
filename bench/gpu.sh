#!/usr/bin/env bash
# The CUDA backend on a real GPU (issue 16), in one run of at most 5 minutes on
# the lent machine (/work/.library/device/README.md): builds charrnn there
# with CUDA and without oneDNN or MPI, from the .deb files bench/gpu-prepare.sh
# put in .gpu/ and the cuDNN of PyTorch's wheel; runs the GPU tests; then the
# training throughput of charrnn and of PyTorch with cuDNN (gpu_ref.py) on
# configurations a-d in the same run. Logs go to $OUT (or .gpu/out).
#   here:  bench/gpu-prepare.sh
#   there: bash bench/gpu.sh [SECONDS] [CONFIGS]   (carry [".gpu"]; default 10 a,b,c,d)
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
configs=${2:-a,b,c,d}
out=${OUT:-.gpu/out}
mkdir -p "$out"
exec > >(tee "$out/gpu.log") 2>&1
root=$PWD/.gpu/root
step() { echo "== $(date -u +%T) $*"; }

step "dependencies"
rm -rf "$root" && mkdir -p "$root"
for f in .gpu/debs/*.deb; do dpkg -x "$f" "$root"; done
lib=$root/usr/lib/x86_64-linux-gnu
# Point the .pc files at the prefix; OpenBLAS's own folder stands in for
# the alternatives dpkg -x does not set up.
for pc in $(find "$root" -name '*.pc'); do sed -i "s|/usr|$root/usr|g" "$pc"; done
export PKG_CONFIG_PATH=$lib/openblas-openmp/pkgconfig:$lib/pkgconfig
export PKG_CONFIG=$root/usr/bin/pkgconf
export LD_LIBRARY_PATH=$lib/openblas-openmp:$lib:${LD_LIBRARY_PATH:-}
export CPATH=$root/usr/include:$root/usr/include/x86_64-linux-gnu/openblas-openmp
export LIBRARY_PATH=$lib/openblas-openmp:$lib
# cuDNN from PyTorch's wheel (nvidia-cudnn-cu13): a prefix with an unversioned
# libcudnn.so for the linker.
cudnn=$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null ||
        python3 -c 'import nvidia.cudnn; print(list(nvidia.cudnn.__path__)[0])')
mkdir -p .gpu/cudnn/lib
ln -sfn "$cudnn/include" .gpu/cudnn/include
for so in "$cudnn"/lib/libcudnn*.so.*; do ln -sf "$so" .gpu/cudnn/lib/; done
ln -sf "$cudnn/lib/libcudnn.so.9" .gpu/cudnn/lib/libcudnn.so
export LD_LIBRARY_PATH=$cudnn/lib:$LD_LIBRARY_PATH
# cuBLAS and the runtime: the toolkit's, else the wheels'.
for w in cublas cuda_runtime; do
  d=$(python3 -c "import nvidia.$w, os; print(list(nvidia.$w.__path__)[0])" 2>/dev/null) &&
    export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$d/lib
done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
which nvcc && nvcc --version | tail -1

step "build"
rm -rf build-gpu
meson setup build-gpu -Dcuda=enabled -Dcudnn_dir="$PWD/.gpu/cudnn" -Donednn=disabled -Dmpi=disabled \
  -Djson=disabled -Dserver=disabled -Dpython=disabled -Dgpu_targets='-gencode=arch=compute_90,code=sm_90' \
  >"$out/setup.log" 2>&1 || { tail -40 "$out/setup.log"; exit 1; }
grep -i -E "cuda|cudnn|cublas" "$out/setup.log" | head -20
ninja -C build-gpu >"$out/build.log" 2>&1 || { grep -B2 -A8 -E "error|Error" "$out/build.log" | head -60; exit 1; }
bin=build-gpu/charrnn
$bin --version

step "GPU tests"
timeout 120 build-gpu/tests/test_gpu 2>&1 | tail -40
echo "test_gpu exit ${PIPESTATUS[0]}"
timeout 60 build-gpu/tests/test_gpu_math 2>&1 | tail -3

step "charrnn training throughput, ${seconds}s each"
corpus=.gpu/tinyshakespeare.txt
for c in ${configs//,/ }; do
  case $c in
    a) opts=(--layers 2 --hidden 128 --embed 64 --batch 50 --seq 50) ;;
    b) opts=(--layers 2 --hidden 512 --embed 64 --batch 50 --seq 50) ;;
    c) opts=(--layers 3 --hidden 512 --embed 64 --batch 64 --seq 100) ;;
    d) opts=(--layers 3 --hidden 1024 --embed 128 --batch 128 --seq 100) ;;
  esac
  log=$out/train-$c.log
  timeout 120 $bin train "$corpus" -o .gpu/m-$c.crnn "${opts[@]}" --device cuda --time "$seconds" \
    --no-plan --eval-every 1000000000 --eval-chars 20000 --no-cache >"$log" 2>&1
  rc=$?
  cps=$(sed -n 's/.* \([0-9.]*\)k chars\/s.*/\1/p' "$log" | tail -1)
  echo "charrnn $c: exit $rc, ${cps}k chars/s; $(grep -m1 'layers on' "$log" | sed 's/.*layers on //')"
  [ $rc = 0 ] || tail -5 "$log"
done

step "charrnn eval of model c on 200 kB: GPU, then CPU (the figures agree to the digits shown)"
head -c 200000 "$corpus" >.gpu/piece.txt
for d in cuda cpu; do
  [ -f .gpu/m-c.crnn ] || break
  start=$(date +%s.%N)
  timeout 60 $bin eval .gpu/m-c.crnn .gpu/piece.txt --device $d 2>&1 | tail -2
  echo "eval --device $d: exit ${PIPESTATUS[0]}, $(awk "BEGIN { printf \"%.2f\", $(date +%s.%N) - $start }") s"
done

step "charrnn sampling on the GPU: batch 1 on a and b, batches of 1 to 256 on d (chars/s in all)"
# bench_sample: an untrained model of the shape (the speed does not depend on
# the weights), fp32/fp16/bf16 rows; the GPU widens 16-bit weights to fp32.
for shape in "a 2 128 64 1" "b 2 512 64 1" "d 3 1024 128 1 16 64 256"; do
  set -- $shape
  name=$1; shift 1
  BENCH_DEVICE=cuda timeout 90 build-gpu/bench/bench_sample "$corpus" "$1" "$2" "$3" 2 "${*:4}" 2>&1 |
    sed "s/^/$name: /"
done

step "PyTorch with cuDNN (gpu_ref.py), ${seconds}s each"
PYTHONUNBUFFERED=1 timeout 240 python3 .gpu/gpu_ref.py --corpus "$corpus" --seconds "$seconds" \
  --configs "$configs" | tee "$out/torch.jsonl"
step "done"
