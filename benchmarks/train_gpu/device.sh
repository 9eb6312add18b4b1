#!/usr/bin/env bash
# Run benchmarks/train_gpu.py on a bare GPU machine that has Python 3.12 + torch but not the training stack.
# The wheels travel in .whl/ (docs/performance.md, "training (GPU)", has the download commands); vlmdata's own
# wheel there only provides the package metadata (entry points), the code is this checkout's, linked in.
#   bash benchmarks/train_gpu/device.sh --out "$OUT/b" --work /tmp/w            # one GPU
#   bash benchmarks/train_gpu/device.sh --gpus 2 --out "$OUT/b" --work /tmp/w   # two GPUs, ZeRO-2
#   bash benchmarks/train_gpu/device.sh --grpo --out "$OUT/g" --work /tmp/w     # the GRPO summary preset
set -uo pipefail
# a second invocation on the same machine with the same wheels reuses the installation
marker="/tmp/site/.installed-$(ls .whl | md5sum | cut -c1-12)"
if [ ! -f "$marker" ]; then
  rm -rf /tmp/site
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
  touch "$marker"
fi
rm -rf /tmp/site/vlmdata /tmp/site/vlmdata_plugins
ln -s "$PWD/vlmdata" /tmp/site/vlmdata
ln -s "$PWD/plugins" /tmp/site/vlmdata_plugins
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
# variable-length batches fragment the caching allocator (66 GiB allocated, 128 GiB reserved seen on an H200)
export PYTORCH_CUDA_ALLOC_CONF="${PYTORCH_CUDA_ALLOC_CONF:-expandable_segments:True}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import sys, torch, transformers, peft, trl, swift, datasets, liger_kernel, importlib.metadata as m; print(sys.version.split()[0], 'torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'trl', trl.__version__, 'ms-swift', m.version('ms-swift'), 'liger-kernel', m.version('liger-kernel'), 'gpus', torch.cuda.device_count())" || exit 4
python3 -c "import deepspeed; print('deepspeed', deepspeed.__version__)" 2>/dev/null || echo "deepspeed not installed (needed by --gpus 2 only)"
python3 -m vlmdata plugins || true
python3 benchmarks/train_gpu.py "$@"
