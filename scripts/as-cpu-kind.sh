#!/usr/bin/env bash
# Run a command as on a CPU of a lesser kind: PyTorch, oneDNN and MKL capped to that kind's instructions, so the
# capability probe (src/visionmlp/utils/capabilities.py) answers for it and the kernels are that kind's.
#   scripts/as-cpu-kind.sh avx2 make demo
#   scripts/as-cpu-kind.sh avx2 .venv/bin/python -m pytest tests/layers/test_packed_linear.py
# On an AMD EPYC with AVX-512 (Zen 4, whose AVX-512 runs on 256-bit units) this is close to an AVX2-only EPYC:
# float32 at AVX2 width, no bfloat16 kernels (bfloat16 autocast emulated, many times slower). It cannot raise a
# CPU above its own kind.
set -euo pipefail
kind="${1:-}"
shift || true
case "$kind" in
  avx2) export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 ;;
  *) echo "usage: $0 avx2 COMMAND [ARG...]  (the one kind below AVX-512 the project supports)" >&2; exit 2 ;;
esac
if [ "$#" -eq 0 ]; then
  echo "usage: $0 $kind COMMAND [ARG...]" >&2
  exit 2
fi
exec "$@"
