#!/usr/bin/env bash
# Trains models/demo-prior, the small model `srdtrans demo` fine-tunes from, with the CLI alone:
# self-supervised (noisy stacks only) on simulated calcium recordings whose seeds (101–104)
# differ from the demo's (1, 2, 3, …), at several frame rates and photon levels so that the
# prior is not tuned to one recording. About an hour on two CPU cores.
#   bash tools/train-demo-prior.sh [work folder]   (default: a temporary one)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-$(mktemp -d)}"
srdtrans() { node bin/srdtrans.js "$@"; }

stacks=()
for spec in "101 0.3 1" "102 0.3 2" "103 1 2" "104 3 4"; do
  read -r seed rate photons <<<"$spec"
  out="$work/sim-$seed"
  [ -f "$out/noisy.tif" ] || srdtrans simulate calcium --out "$out" --frames 200 --size 96 --seed "$seed" --frame-rate "$rate" --photons "$photons"
  stacks+=("$out/noisy.tif")
done

# The demo's architecture (DEMO_MODEL in src/cli/demo.ts) and patch size.
resume=()
[ -f "$work/model/config.json" ] && resume=(--resume)
if [ ${#resume[@]} -eq 0 ]; then
  srdtrans train "${stacks[@]}" --out "$work/model" --f-maps 8,16,32,64 --embed-dim 64 --heads 4 --mlp-dim 128 --patch-t 32 \
    --patch-xy 32 --train-size 800 --epochs 8 --lr 5e-4 --schedule cosine --warmup 200 --seed 101 --backend wasm
else
  srdtrans train --out "$work/model" --resume "${stacks[@]}" --backend wasm
fi

mkdir -p models/demo-prior
cp "$work/model/best.safetensors" models/demo-prior/best.safetensors
cp "$work/model/config.json" models/demo-prior/config.json
echo "models/demo-prior: from $work/model (best epoch by validation loss)"
