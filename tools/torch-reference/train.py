#!/usr/bin/python3
"""The published SRDTrans training, as /work/shared/SRDTRANS.md states it, with torch.optim.Adam:

    /usr/bin/python3 tools/torch-reference/train.py noisy.tif [more.tif ...] --out model.pth \
        [--patch-xy 128] [--patch-t 32] [--overlap 0.5] [--train-size 6000] [--epochs 1] \
        [--lr 1e-4] [--scale 1] [--seed 0] [--threads 2] [--conv-mode onednn] \
        [--embed-dim 128] [--heads 8] [--mlp-dim 512]

Per stack: float32 / scale minus its own mean; the published patch grid; each epoch visits every
patch in random order, applies one of the 8 dihedral transforms in (H, W), splits it by spatial
redundancy sampling into input and two targets (T × P/2 × P/2) and takes one Adam step on the
published loss. Writes the state dict after the last epoch; prints one JSON line with timings.
The transformer sizes default to the published ones; smaller ones train the narrower networks
that `srdtrans` benchmarks use on a CPU (e.g. `npm run bench -- parity`).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import network  # noqa: E402
import runtime  # noqa: E402
import tiff  # noqa: E402

# Cell pixels 0=(0,0) 1=(0,1) 2=(1,0) 3=(1,1): (input, target 1, target 2), each with its two neighbours.
TRIPLES = np.array([(0, 1, 2), (0, 2, 1), (1, 0, 3), (1, 3, 0), (2, 0, 3), (2, 3, 0), (3, 2, 1), (3, 1, 2)])


def published_loss(out, t1, t2):
    """0.5·(0.5·L1 + 0.5·L2) against each of the two targets."""
    def l1l2(t):
        return 0.5 * F.l1_loss(out, t) + 0.5 * F.mse_loss(out, t)
    return 0.5 * l1l2(t1) + 0.5 * l1l2(t2)


def spatial_redundancy_sample(patch, rng):
    """patch [T, P, P] → input, target 1, target 2, each [T, P/2, P/2]; one triple per 2×2 cell."""
    t, p, _ = patch.shape
    h = p // 2
    cells = patch.reshape(t, h, 2, h, 2).transpose(0, 1, 3, 2, 4).reshape(t, h, h, 4)
    picks = TRIPLES[rng.integers(0, 8, size=(t, h, h))]
    chosen = np.take_along_axis(cells, picks, axis=-1)
    return [np.ascontiguousarray(chosen[..., k]) for k in range(3)]


def dihedral(patch, k):
    """k in 0..7: rotation by 90°·(k mod 4) in (H, W), after a horizontal flip for k ≥ 4."""
    if k >= 4:
        patch = patch[:, :, ::-1]
    return np.rot90(patch, k=k % 4, axes=(1, 2))


def temporal_gap(shape, n_stacks, patch_xy, patch_t, gap_xy, train_size):
    """The published gap_t, with a single position (0) where it would divide by zero, else ≥ 1."""
    T, H, W = shape
    w_num = (W - patch_xy) // gap_xy + 1
    h_num = (H - patch_xy) // gap_xy + 1
    s_num = math.ceil(train_size / w_num / h_num / n_stacks)
    if s_num <= 1:
        return 0
    return max(1, (T - patch_t) // (s_num - 1))


def train_grid(shapes, patch_xy, patch_t, overlap, train_size):
    """(stack, t, y, x) patch origins in the published order (stack, y, x, t)."""
    gap = int(patch_xy * (1 - overlap))
    out = []
    for s, (T, H, W) in enumerate(shapes):
        if T < patch_t or H < patch_xy or W < patch_xy:
            raise SystemExit(f'stack {s} ({T}×{H}×{W}) is smaller than a patch ({patch_t}×{patch_xy}×{patch_xy})')
        gap_t = temporal_gap((T, H, W), len(shapes), patch_xy, patch_t, gap, train_size)
        s_num = 1 if gap_t == 0 else (T - patch_t) // gap_t + 1
        for i in range((H - patch_xy) // gap + 1):
            for j in range((W - patch_xy) // gap + 1):
                for k in range(s_num):
                    out.append((s, k * gap_t, i * gap, j * gap))
    return out


def make_optimizer(model, lr, betas=(0.5, 0.999)):
    return torch.optim.Adam(model.parameters(), lr=lr, betas=betas)


def train_step(model, optimizer, x, t1, t2):
    """Forward, published loss, backward, Adam; x, t1, t2 [1, 1, T, h, w]. Returns the loss."""
    optimizer.zero_grad(set_to_none=True)
    loss = published_loss(model(x), t1, t2)
    loss.backward()
    optimizer.step()
    return loss.item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('inputs', nargs='+')
    ap.add_argument('--out', required=True, help='state dict to write (.pth)')
    ap.add_argument('--patch-xy', type=int, default=128)
    ap.add_argument('--patch-t', type=int, default=32)
    ap.add_argument('--overlap', type=float, default=0.5)
    ap.add_argument('--train-size', type=int, default=6000)
    ap.add_argument('--epochs', type=int, default=1)
    ap.add_argument('--lr', type=float, default=1e-4)
    ap.add_argument('--scale', type=float, default=1)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--embed-dim', type=int, default=128, help='transformer token width E')
    ap.add_argument('--heads', type=int, default=8, help='attention heads of both transformers')
    ap.add_argument('--mlp-dim', type=int, default=512, help='hidden width of the transformer MLPs')
    runtime.add_arguments(ap)
    args = ap.parse_args()
    started = time.perf_counter()
    runtime.setup(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    stacks = []
    for path in args.inputs:
        s = tiff.read_stack(path).astype(np.float32) / np.float32(args.scale)
        stacks.append(s - s.mean())
    grid = train_grid([s.shape for s in stacks], args.patch_xy, args.patch_t, args.overlap, args.train_size)
    cfg = network.ModelConfig(embed_dim=args.embed_dim, heads=args.heads, mlp_dim=args.mlp_dim, patch_t=args.patch_t)
    model = network.SRDTrans(cfg).train()
    model = runtime.prepare(model, args.conv_mode, training=True)
    optimizer = make_optimizer(model, args.lr)
    step_ms, losses = [], []
    t_train = time.perf_counter()
    for _ in range(args.epochs):
        for idx in rng.permutation(len(grid)):
            s, t, y, x = grid[idx]
            patch = stacks[s][t:t + args.patch_t, y:y + args.patch_xy, x:x + args.patch_xy]
            parts = spatial_redundancy_sample(np.ascontiguousarray(dihedral(patch, int(rng.integers(0, 8)))), rng)
            t0 = time.perf_counter()
            x_in, t1, t2 = (runtime.as_input(torch.from_numpy(a)[None, None], args.conv_mode) for a in parts)
            losses.append(train_step(model, optimizer, x_in, t1, t2))
            step_ms.append((time.perf_counter() - t0) * 1e3)
    train_s = time.perf_counter() - t_train
    torch.save(model.state_dict(), args.out)
    print(json.dumps({'output': args.out, 'steps': len(step_ms), 'patches_per_epoch': len(grid), 'train_s': train_s,
                      'step_ms_median': statistics.median(step_ms), 'last_loss': losses[-1],
                      'total_s': time.perf_counter() - started, **runtime.describe(args)}))


if __name__ == '__main__':
    main()
