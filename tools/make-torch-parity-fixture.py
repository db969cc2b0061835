#!/usr/bin/python3
"""Makes test/fixtures/torch-parity/: a small simulated calcium stack, a tiny SRDTrans trained on
it by `srdtrans train` and exported by `srdtrans export --pth`, and what the PyTorch reference
(tools/torch-reference/denoise.py) writes for them. test/infer/torch-parity.test.ts runs our
`srdtrans denoise` on the same stack and checkpoint and compares. The tests never need torch;
rerun this (Debian's python3-torch, NumPy 1.x) after changing the inference arithmetic on purpose.

    /usr/bin/python3 tools/make-torch-parity-fixture.py

The grid is chosen so that every axis has an end-aligned last patch that overlaps its
neighbour (36 frames, patch_t 16: t origins 0, 8, 16, 20; 52 pixels, patch 32: 0, 16, 20) and
the Swin window (7) does not divide the patch (zero padding in both Swin blocks).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'torch-parity')
SIMULATE = ['--frames', '36', '--size', '52', '--photons', '60', '--seed', '3']
TINY_MODEL = ['--f-maps', '4,8', '--embed-dim', '16', '--heads', '2', '--mlp-dim', '32', '--window', '7', '--blocks', '1',
              '--patch-t', '16', '--patch-xy', '32', '--train-size', '24', '--epochs', '1', '--seed', '1']
DENOISE = {'patchXY': 32, 'overlap': 0.5, 'scale': 1}


def srdtrans(*args):
    subprocess.run(['node', os.path.join(ROOT, 'bin', 'srdtrans.js'), *args], cwd=ROOT, check=True)


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    tmp = tempfile.mkdtemp(prefix='srdtrans-parity-')
    try:
        os.makedirs(OUT, exist_ok=True)
        srdtrans('simulate', 'calcium', '--out', os.path.join(tmp, 'sim'), *SIMULATE)
        srdtrans('train', os.path.join(tmp, 'sim', 'noisy.tif'), '--out', os.path.join(tmp, 'model'), *TINY_MODEL,
                 '--backend', 'wasm')
        noisy, model, reference = (os.path.join(OUT, n) for n in ('noisy.tif', 'model.pth', 'reference.tif'))
        shutil.copyfile(os.path.join(tmp, 'sim', 'noisy.tif'), noisy)
        srdtrans('export', '--pth', model, '--model', os.path.join(tmp, 'model'))
        res = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'torch-reference', 'denoise.py'),
                              '--model', model, '--input', noisy, '--out', reference,
                              '--patch-xy', str(DENOISE['patchXY']), '--overlap', str(DENOISE['overlap']),
                              '--scale', str(DENOISE['scale'])], check=True, stdout=subprocess.PIPE)
        ref = json.loads(res.stdout.decode().strip().splitlines()[-1])
        manifest = {
            'made_by': 'tools/make-torch-parity-fixture.py',
            'simulate': SIMULATE, 'train': TINY_MODEL, 'denoise': DENOISE,
            'reference': {k: ref[k] for k in ('torch', 'numpy', 'threads', 'conv_mode', 'shape', 'dtype')},
            'sha256': {n: sha256(os.path.join(OUT, n)) for n in ('noisy.tif', 'model.pth', 'reference.tif')},
        }
        with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
            json.dump(manifest, f, indent=1)
            f.write('\n')
        print(json.dumps(manifest, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
