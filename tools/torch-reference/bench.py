#!/usr/bin/python3
"""Timings of the reference network for `npm run bench -- compare` (one JSON line on stdout):

    /usr/bin/python3 tools/torch-reference/bench.py forward --shape 1,1,32,128,128 [--repeat 3] [--warmup 1]
    /usr/bin/python3 tools/torch-reference/bench.py step --shape 1,1,32,64,64 [...]
    /usr/bin/python3 tools/torch-reference/bench.py modes --shape 1,1,32,64,64   # every conv mode, eval forward

The published default network (patch_t = T of the shape), seeded random weights and inputs.
forward: eval mode under torch.inference_mode. step: training mode (dropout on), forward, the
published loss against two random targets, backward, torch.optim.Adam (lr 1e-4, betas 0.5/0.999).
Warm-up runs are not counted; times are wall clock per run, in ms.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import network  # noqa: E402
import runtime  # noqa: E402
import train  # noqa: E402


def timed(fn, repeat, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def forward(shape, mode, repeat, warmup):
    model = runtime.prepare(network.SRDTrans(network.ModelConfig(patch_t=shape[2])).eval(), mode)
    x = runtime.as_input(torch.randn(shape, generator=torch.Generator().manual_seed(2)), mode)

    def run():
        with torch.inference_mode():
            model(x)
    return timed(run, repeat, warmup)


def step(shape, mode, repeat, warmup):
    model = runtime.prepare(network.SRDTrans(network.ModelConfig(patch_t=shape[2])).train(), mode, training=True)
    optimizer = train.make_optimizer(model, 1e-4)
    g = torch.Generator().manual_seed(2)
    x, t1, t2 = (runtime.as_input(torch.randn(shape, generator=g), mode) for _ in range(3))
    return timed(lambda: train.train_step(model, optimizer, x, t1, t2), repeat, warmup)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('what', choices=('forward', 'step', 'modes'))
    ap.add_argument('--shape', required=True, help='B,C,T,H,W')
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--warmup', type=int, default=1)
    runtime.add_arguments(ap)
    args = ap.parse_args()
    runtime.setup(args.threads)
    torch.manual_seed(0)
    shape = tuple(int(v) for v in args.shape.split(','))
    if args.what == 'modes':
        result = {m: statistics.median(forward(shape, m, args.repeat, args.warmup)) for m in runtime.CONV_MODES}
        print(json.dumps({'what': 'modes', 'shape': shape, 'median_ms': result, **runtime.describe(args)}))
        return
    times = (forward if args.what == 'forward' else step)(shape, args.conv_mode, args.repeat, args.warmup)
    print(json.dumps({'what': args.what, 'shape': shape, 'times_ms': times, 'median_ms': statistics.median(times),
                      **runtime.describe(args)}))


if __name__ == '__main__':
    main()
