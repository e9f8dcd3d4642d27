#!/usr/bin/env bash
# The GPU checks, run on a lent GPU machine (the device tool) from the repository root, with the
# optuna wheels carried in .whl. Writes its logs under $OUT.
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 OUT=${OUT:-/tmp/out}
nvidia-smi -L
python3 -c "import torch, optuna; print('torch', torch.__version__, 'optuna', optuna.__version__, 'cuda', torch.cuda.is_available())"
timeout 170 python3 -m pytest -q -p no:cacheprovider tests/sweeps_core/test_torch_task.py tests/sweeps/test_devices.py \
    tests/sweeps_core/test_fused.py tests/sweeps/test_fused.py 2>&1 | tee $OUT/tests.log | tail -25
timeout 120 python3 benchmarks/devices.py --study iris --epochs 200 2>&1 | tee $OUT/devices_iris.txt
timeout 90 python3 benchmarks/devices.py --study breast_cancer --epochs 100 2>&1 | tee $OUT/devices_bc.txt
