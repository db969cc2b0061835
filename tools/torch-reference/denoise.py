#!/usr/bin/python3
"""The published SRDTrans inference, as /work/shared/SRDTRANS.md states it, on a TIFF stack:

    /usr/bin/python3 tools/torch-reference/denoise.py --model model.pth --input noisy.tif \
        --out denoised.tif [--patch-xy 128] [--overlap 0.5] [--scale 1] [--threads 2] [--conv-mode to-mkldnn] [--float]

Overlapping patches (t outermost, then y, then x; the last patch of an axis aligned to its end),
the centre of each kept, each kept region rescaled by sqrt(sum(input)/sum(output)), later patches
overwriting earlier ones, float64 stitch buffer, then the published output conversion (or, with
--float, float32 values · scale unclipped, as `srdtrans denoise --float` writes them). NumPy 1.x
casting gives the published float32/float64 mix; the expressions below are written so that it
does (this module refuses NumPy 2). Prints one JSON line with timings on stdout.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import network  # noqa: E402
import runtime  # noqa: E402
import tiff  # noqa: E402


def axis_positions(length, patch, gap):
    """(origin, src0, src1, dst0, dst1) per patch along one axis."""
    n = math.ceil((length - patch + gap) / gap)
    if n <= 1:
        # One patch covers the axis: keep all of it (the published code keeps only P − cut voxels).
        return [(0, 0, patch, 0, length)]
    cut = (patch - gap) / 2
    out = []
    for i in range(n):
        if i == 0:
            out.append((0, 0, int(patch - cut), 0, int(patch - cut)))
        elif i == n - 1:
            out.append((length - patch, int(cut), patch, int(length - patch + cut), length))
        else:
            out.append((i * gap, int(cut), int(patch - cut), int(i * gap + cut), int(i * gap + patch - cut)))
    return out


def output_array(values, input_dtype, scale, as_float=False):
    """float32 · scale; unless as_float, clip [0, 65535], truncate to int32, then the input's type (uint16, int16) or int32."""
    v = values.astype(np.float32) * scale
    if as_float:
        return v
    v = np.clip(v, 0, 65535).astype(np.int32)
    if input_dtype == np.uint16:
        return v.astype(np.uint16)
    if input_dtype == np.int16:
        return np.clip(v, -32767, 32767).astype(np.int16)
    return v


def denoise(model, raw, patch_xy, overlap, scale, run, as_float=False):
    """raw [T, H, W] → the published output array; run(patch float32 [T, P, P]) → float32 [T, P, P]."""
    patch_t = model.cfg.patch_t
    mean = raw.mean()  # float64 for integer stacks (NumPy accumulates them in float64)
    noisy = raw.astype(np.float32) / scale - mean  # stays float32 (NumPy 1.x value-based casting)
    gap_xy = int(patch_xy * (1 - overlap))
    gap_t = int(patch_t * (1 - overlap))
    T, H, W = raw.shape
    buffer = np.zeros(raw.shape)
    for ot, st0, st1, dt0, dt1 in axis_positions(T, patch_t, gap_t):
        for oy, sy0, sy1, dy0, dy1 in axis_positions(H, patch_xy, gap_xy):
            for ox, sx0, sx1, dx0, dx1 in axis_positions(W, patch_xy, gap_xy):
                patch = noisy[ot:ot + patch_t, oy:oy + patch_xy, ox:ox + patch_xy]
                out = run(np.ascontiguousarray(patch))
                a = out[st0:st1, sy0:sy1, sx0:sx1] + mean
                b = patch[st0:st1, sy0:sy1, sx0:sx1] + mean
                buffer[dt0:dt1, dy0:dy1, dx0:dx1] = a * (np.sum(b) / np.sum(a)) ** 0.5
    return output_array(buffer, raw.dtype, scale, as_float)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', required=True, help='state dict (.pth), e.g. from srdtrans export --pth')
    ap.add_argument('--input', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--patch-xy', type=int, default=128)
    ap.add_argument('--overlap', type=float, default=0.5)
    ap.add_argument('--scale', type=int, default=1, help='scale_factor (an integer in the published code)')
    ap.add_argument('--float', action='store_true', help='write float32 instead of the published integer output')
    runtime.add_arguments(ap, default_mode='to-mkldnn')
    args = ap.parse_args()
    started = time.perf_counter()
    runtime.setup(args.threads)
    model = network.load_model(args.model).eval()
    run = runtime.inference_runner(model, args.conv_mode)
    raw = tiff.read_stack(args.input)
    t0 = time.perf_counter()
    out = denoise(model, raw, args.patch_xy, args.overlap, args.scale, run, args.float)
    seconds = time.perf_counter() - t0
    tiff.write_stack(args.out, out)
    print(json.dumps({'output': args.out, 'shape': list(out.shape), 'dtype': str(out.dtype), 'denoise_s': seconds,
                      'total_s': time.perf_counter() - started, **runtime.describe(args)}))


if __name__ == '__main__':
    main()
