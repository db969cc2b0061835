#!/bin/bash
# Ablations behind the paper comparison (issue 13, part 4): why spatial sampling at 0.3 Hz gains
# less over raw here than in the paper. Each variant changes one thing from the paper preset
# (the CPU network, 200 frames of 96², raw SNR −1 dB, 32-pixel patches, constant 2e-4) and trains
# spatial sampling for the same fixed budget, so the variants compare with each other, not with
# the plateau of the full comparison. Interrupted? Run it again: finished variants are kept and
# unfinished ones continue. RESCORE=1 scores finished variants again with the current metrics
# (their models are read back, not retrained).
#
#   bash tools/paper-ablations.sh [folder]    (hours on two CPU cores; prints a table at the end)
set -euo pipefail
out="${1:-paper-ablations}"
here="$(cd "$(dirname "$0")/.." && pwd)"
steps=1070 # five epochs of the paper preset's 214 steps
common=(--paper --rates 0.3 --sampling spatial --steps "$steps" --epochs 5 --patience 0)
# The photon level that gives the paper's −1 dB raw SNR at 0.3 Hz on 200×96×96 (bench quality
# --paper finds it by bisection and stores it in conditions.json).
photons=1.35

variant() {
  local name="$1"; shift
  local dir="$out/$name"
  if [ -f "$dir/results.json" ] && [ -z "${RESCORE:-}" ]; then echo "$name: done before"; return; fi
  local resume=()
  if [ -d "$dir/models" ]; then resume=(--resume); fi
  echo "$name: $*"
  node "$here/bin/srdtrans.js" bench quality "${common[@]}" --out "$dir" --photons "$photons" "${resume[@]}" "$@"
}

variant base
variant published-network --full
variant photons-x4 --photons "$(node -e "console.log($photons * 4)")"
variant frames-800 --frames 800
variant cosine --schedule cosine
variant patch-64 --patch-xy 64

node --input-type=module - "$out" <<'EOF'
import { readFileSync, readdirSync, existsSync } from 'node:fs';
const dir = process.argv[2];
const row = (name) => {
  const report = JSON.parse(readFileSync(`${dir}/${name}/results.json`, 'utf8'));
  const methods = report.results[0].results;
  const raw = methods.find((m) => m.method === 'raw').evaluation;
  const spatial = methods.find((m) => m.method === 'SRDTrans (spatial)');
  const still = methods.find((m) => m.method === 'mean image')?.evaluation.snr_z_db;
  const oracle = methods.find((m) => m.method === 'linear oracle (truth statistics)')?.evaluation.snr_z_db;
  const e = spatial.evaluation;
  const split = e.error_split ? [e.error_split.static, e.error_split.cells, e.error_split.background].map((v) => v.toFixed(3)).join(' / ') : 'n/a';
  const dB = (v) => (v === undefined ? 'n/a' : v.toFixed(2));
  return `| ${name} | ${dB(raw.snr_z_db)} | ${dB(still)} | ${dB(e.snr_z_db)} | ${dB(e.snr_z_db - raw.snr_z_db)} | ${dB(oracle)} | ` +
    `${split} | ${e.snr_db.toFixed(2)} | ${e.ssim.toFixed(3)} | ${raw.trace_r.toFixed(3)} → ${e.trace_r.toFixed(3)} | ${spatial.steps} | ${spatial.seconds.toFixed(0)} |`;
};
console.log('| variant | raw SNR dB | mean image SNR dB | spatial SNR dB | gain dB | linear oracle SNR dB | spatial error: static / cells / background | affine SNR dB | SSIM | trace r | steps | s |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const name of readdirSync(dir).sort()) if (existsSync(`${dir}/${name}/results.json`)) console.log(row(name));
EOF
