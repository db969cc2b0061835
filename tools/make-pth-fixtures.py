#!/usr/bin/python3
"""Makes the PyTorch checkpoint fixtures under test/fixtures/pth/ and checks our .pth writer
against real torch. The tests themselves never need torch; rerun this after changing the
reader's fixtures or the writer, and commit what it writes.

    apt-get install -y python3-torch        # Debian's torch (1.13 on bookworm)
    /usr/bin/python3 tools/make-pth-fixtures.py [--published DIR]

--published DIR: a checkout of the published SRDTrans code (github cabooster/SRDTrans). Then our
written state dicts are also loaded with load_state_dict(strict=True) into the published model
(tiny and default configurations), and the published forward pass is compared with ours. That
code imports einops and timm, which Debian does not package; the few names its model needs while
building and running in eval mode are stood in for by small shims written to a temporary folder
(they are no part of the published code).

Tensor names and shapes come from our own network description (tools/pth-fixtures.ts spec),
never from the published code. Values: seeded random floats; the int64 relative_position_index
buffers as our network builds them.
"""
import argparse
import collections
import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'pth')
# The malicious fixtures would create this file if anything ran them; the tests check it is never made.
PWNED = '/tmp/srdtrans-pth-fixture-pwned'


def tsx(*args, capture=False):
    cmd = ['node', '--import', 'tsx', os.path.join('tools', 'pth-fixtures.ts'), *args]
    res = subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.PIPE if capture else None)
    return res.stdout.decode() if capture else None


def write_values(tensors, stem, config=None):
    """Raw little-endian values + a manifest: what the tests compare our reader's output with."""
    entries, chunks, offset = [], [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        if t.dtype != torch.int64:
            t = t.float()
        data = t.numpy().astype('<i8' if t.dtype == torch.int64 else '<f4').tobytes()
        entries.append({'name': name, 'shape': list(t.shape),
                        'dtype': 'int64' if t.dtype == torch.int64 else 'float32',
                        'offset': offset, 'nbytes': len(data)})
        chunks.append(data)
        offset += len(data)
    with open(os.path.join(OUT, stem + '-manifest.json'), 'w') as f:
        json.dump({'config': config, 'tensors': entries}, f, indent=1)
        f.write('\n')
    with open(os.path.join(OUT, stem + '-values.bin'), 'wb') as f:
        f.write(b''.join(chunks))


def read_values(manifest_file, bin_file):
    import numpy as np
    with open(manifest_file) as f:
        manifest = json.load(f)
    with open(bin_file, 'rb') as f:
        data = f.read()
    out = collections.OrderedDict()
    for e in manifest['tensors']:
        raw = data[e['offset']:e['offset'] + e['nbytes']]
        arr = np.frombuffer(raw, dtype='<i8' if e['dtype'] == 'int64' else '<f4').reshape(e['shape'])
        out[e['name']] = torch.from_numpy(arr.copy())
    return manifest, out


class RunsShell:
    """What a hostile checkpoint looks like: unpickling it with Python's pickle runs a command."""

    def __reduce__(self):
        return (os.system, ('touch ' + PWNED,))


class RunsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').system('touch %s')" % PWNED,))


def make_fixtures():
    os.makedirs(OUT, exist_ok=True)
    spec = json.loads(tsx('spec', capture=True))
    g = torch.Generator().manual_seed(20230601)
    sd = collections.OrderedDict()
    for t in spec['tensors']:
        if t['dtype'] == 'int64':
            sd[t['name']] = torch.tensor(t['values'], dtype=torch.int64).reshape(t['shape'])
        else:
            sd[t['name']] = torch.randn(t['shape'], generator=g) * 0.3
    write_values(sd, 'tiny', spec['config'])
    torch.save(sd, os.path.join(OUT, 'tiny.pth'))
    torch.save(sd, os.path.join(OUT, 'tiny-legacy.pth'), _use_new_zipfile_serialization=False)
    # nn.DataParallel's state dict: every name under 'module.'.
    torch.save(collections.OrderedDict(('module.' + k, v) for k, v in sd.items()),
               os.path.join(OUT, 'tiny-dataparallel.pth'))
    # The same archive re-zipped with deflate (as a zip tool might): no alignment, compressed entries.
    with zipfile.ZipFile(os.path.join(OUT, 'tiny.pth')) as src, \
            zipfile.ZipFile(os.path.join(OUT, 'tiny-deflated.pth'), 'w', zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    # A training-script checkpoint: weights under 'state_dict' beside other entries.
    torch.save({'epoch': 20, 'iteration': 6000, 'lr': 1e-4, 'state_dict': sd},
               os.path.join(OUT, 'tiny-wrapped.pth'))

    # dtypes, views, offsets and strides the reader must handle.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
    mixed = collections.OrderedDict()
    mixed['half'] = torch.randn(3, 5, generator=g).half()
    mixed['double'] = torch.randn(2, 3, generator=g, dtype=torch.float64)
    mixed['bfloat16'] = torch.randn(4, generator=g).bfloat16()
    mixed['transposed'] = base.t()          # strides (1, 6): not contiguous
    mixed['slice'] = base[1:3, 2:5]         # storage offset 8, strides (6, 1)
    mixed['row'] = base[2]                  # contiguous, offset 12, same storage as the two above
    mixed['long'] = torch.tensor([[1, -2, 3], [2 ** 40, -(2 ** 62), 0]])
    mixed['scalar'] = torch.tensor(2.5)
    write_values(mixed, 'mixed')
    torch.save(mixed, os.path.join(OUT, 'mixed.pth'))
    torch.save(mixed, os.path.join(OUT, 'mixed-legacy.pth'), _use_new_zipfile_serialization=False)

    # Hostile files: a torch.save zip whose pickle names posix.system, and a protocol-4 pickle
    # (legacy layout position) that names builtins.eval through STACK_GLOBAL.
    if os.path.exists(PWNED):
        os.remove(PWNED)
    torch.save({'w': torch.zeros(2), 'x': RunsShell()}, os.path.join(OUT, 'evil-system.pth'))
    with open(os.path.join(OUT, 'evil-eval.pth'), 'wb') as f:
        pickle.dump(RunsEval(), f, protocol=4)


def module_tree(sd):
    """A plain nn.Module with exactly these parameter and buffer names: strict loading into it
    checks names, shapes and dtypes the way load_state_dict does for any model."""
    root = torch.nn.Module()
    for name, t in sd.items():
        *path, leaf = name.split('.')
        m = root
        for p in path:
            if not hasattr(m, p):
                m.add_module(p, torch.nn.Module())
            m = getattr(m, p)
        if t.dtype == torch.int64:
            m.register_buffer(leaf, torch.zeros_like(t))
        else:
            m.register_parameter(leaf, torch.nn.Parameter(torch.zeros_like(t)))
    return root


SHIMS = {
    'einops/__init__.py': '''
import re
def _groups(side):
    return [g[1:-1].split() if g.startswith('(') else [g]
            for g in re.findall(r'\\([^)]*\\)|\\S+', side)]
def rearrange(x, pattern, **sizes):
    left, right = [s.strip() for s in pattern.split('->')]
    lg, rg = _groups(left), _groups(right)
    sizes = dict(sizes)
    for group, n in zip(lg, x.shape):
        known = 1
        unknown = [a for a in group if a not in sizes]
        for a in group:
            if a in sizes:
                known *= sizes[a]
        if unknown:
            sizes[unknown[0]] = n // known
    axes = [a for g in lg for a in g]
    y = x.reshape([sizes[a] for a in axes])
    order = [axes.index(a) for g in rg for a in g]
    y = y.permute(order)
    shape = []
    for g in rg:
        n = 1
        for a in g:
            n *= sizes[a]
        shape.append(n)
    return y.reshape(shape)
''',
    'timm/__init__.py': '',
    'timm/models/__init__.py': '',
    'timm/models/layers.py': '''
import collections.abc
import torch
def to_2tuple(x):
    return tuple(x) if isinstance(x, collections.abc.Iterable) else (x, x)
def trunc_normal_(t, mean=0., std=1., a=-2., b=2.):
    return torch.nn.init.trunc_normal_(t, mean, std, a, b)
class DropPath(torch.nn.Module):
    def __init__(self, p=0.):
        super().__init__()
    def forward(self, x):
        return x
''',
}


def published_model(published, cfg):
    shim_dir = tempfile.mkdtemp(prefix='srdtrans-shims-')
    for rel, text in SHIMS.items():
        os.makedirs(os.path.dirname(os.path.join(shim_dir, rel)), exist_ok=True)
        with open(os.path.join(shim_dir, rel), 'w') as f:
            f.write(text)
    for p in (published, shim_dir):
        if p not in sys.path:
            sys.path.insert(0, p)
    from SRDTrans import SRDTrans  # noqa: the published class, from --published
    return SRDTrans(img_dim=64, img_time=cfg['patchT'], in_channel=1, embedding_dim=cfg['embedDim'],
                    window_size=cfg['window'], num_heads=cfg['heads'], hidden_dim=cfg['mlpDim'],
                    num_transBlock=cfg['blocks'], attn_dropout_rate=cfg['attnDropout'],
                    f_maps=list(cfg['fMaps']), input_dropout_rate=0)


def check_written(pth, expected, cfg, published):
    """torch.load our file (safe mode and full), compare bit for bit, load strictly."""
    res = {'sha256': hashlib.sha256(open(pth, 'rb').read()).hexdigest()}
    safe = torch.load(pth, weights_only=True)
    full = torch.load(pth)
    res['torch_load_weights_only'] = True
    res['type'] = type(full).__name__
    res['names_in_order'] = list(full.keys()) == list(expected.keys())
    res['dtypes_shapes_values_equal'] = all(
        full[k].dtype == v.dtype and full[k].shape == v.shape and torch.equal(full[k], v) and torch.equal(safe[k], v)
        for k, v in expected.items())
    module_tree(expected).load_state_dict(full, strict=True)
    res['strict_load_same_names_module'] = True
    if published:
        model = published_model(published, cfg)
        model.load_state_dict(full, strict=True)
        res['strict_load_published_SRDTrans'] = True
    return res


def forward_check(published, pth, cfg, shape):
    """Published network (torch, eval) versus ours (TF.js cpu) on the same weights and input."""
    model = published_model(published, cfg)
    model.load_state_dict(torch.load(pth), strict=True)
    model.eval()
    g = torch.Generator().manual_seed(5)
    x = torch.randn((1, 1, *shape), generator=g)
    with torch.no_grad():
        y = model(x)[0, 0]
    tmp = tempfile.mkdtemp(prefix='srdtrans-fwd-')
    xin, yout = os.path.join(tmp, 'x.bin'), os.path.join(tmp, 'y.bin')
    x.numpy().astype('<f4').tofile(xin)
    tsx('forward', pth, xin, *map(str, shape), yout)
    import numpy as np
    ours = torch.from_numpy(np.fromfile(yout, dtype='<f4').reshape(shape))
    return {'shape_t_h_w': list(shape), 'max_abs_diff': float((ours - y).abs().max()),
            'max_abs_output': float(y.abs().max())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--published', help='checkout of the published SRDTrans code')
    ap.add_argument('--skip-fixtures', action='store_true', help='only rerun the writer checks')
    args = ap.parse_args()
    if not args.skip_fixtures:
        make_fixtures()
    published = os.path.abspath(args.published) if args.published else None
    report = {'torch': torch.__version__, 'python': sys.version.split()[0]}
    tmp = tempfile.mkdtemp(prefix='srdtrans-pth-')

    manifest, expected = read_values(os.path.join(OUT, 'tiny-manifest.json'), os.path.join(OUT, 'tiny-values.bin'))
    ours = os.path.join(tmp, 'ours-tiny.pth')
    tsx('write', os.path.join(OUT, 'tiny-manifest.json'), os.path.join(OUT, 'tiny-values.bin'), ours)
    report['tiny'] = check_written(ours, expected, manifest['config'], published)

    tsx('default', tmp, '7')
    manifest_d, expected_d = read_values(os.path.join(tmp, 'default-manifest.json'), os.path.join(tmp, 'default-values.bin'))
    report['default'] = check_written(os.path.join(tmp, 'default.pth'), expected_d, manifest_d['config'], published)
    report['default'].pop('sha256')  # random weights, not a committed fixture

    if published:
        report['forward_tiny'] = forward_check(published, ours, manifest['config'], (8, 11, 10))
        report['forward_default'] = forward_check(published, os.path.join(tmp, 'default.pth'), manifest_d['config'], (32, 16, 16))
    report['malicious_not_run_by_fixture_maker'] = not os.path.exists(PWNED)
    with open(os.path.join(OUT, 'torch-check.json'), 'w') as f:
        json.dump(report, f, indent=1)
        f.write('\n')
    print(json.dumps(report, indent=1))


if __name__ == '__main__':
    main()
