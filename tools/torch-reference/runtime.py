"""Threads and convolution back end of the reference (shared by denoise.py, train.py, bench.py).

conv modes:
  onednn        every Conv3d calls torch.mkldnn_convolution (oneDNN, dense NCDHW tensors in and
                out, with autograd), for eval and training. Needed because PyTorch 1.13's default
                CPU dispatch sends float32 Conv3d to its im2col + BLAS slow_conv3d instead.
  to-mkldnn     eval only: torch.utils.mkldnn.to_mkldnn(model): Conv3d and Linear weights kept in
                oneDNN's blocked layout (MkldnnConv3d / MkldnnLinear)
  auto          PyTorch's default dispatch on contiguous NCDHW tensors
  channels-last default dispatch on channels_last_3d tensors
ConvTranspose3d always takes PyTorch's default path (1.13 has no oneDNN transposed 3D conv);
Linear layers use the BLAS PyTorch is linked with (reported as 'blas') except under to-mkldnn.
"""
import os
import platform

import numpy as np
import torch
from torch import nn

CONV_MODES = ('onednn', 'to-mkldnn', 'auto', 'channels-last')


def add_arguments(ap, default_mode='onednn'):
    ap.add_argument('--threads', type=int, default=2, help='torch.set_num_threads')
    ap.add_argument('--conv-mode', choices=CONV_MODES, default=default_mode)


def setup(threads):
    if int(np.__version__.split('.')[0]) >= 2:
        raise SystemExit('the reference reproduces NumPy 1.x float32 arithmetic; run it with NumPy 1.x')
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)


class OneDnnConv3d(nn.Conv3d):
    """nn.Conv3d (same parameters and names) computed by oneDNN."""

    def forward(self, x):
        return torch.mkldnn_convolution(x, self.weight, self.bias, self.padding, self.stride, self.dilation, self.groups)


def _use_onednn(module):
    for child in module.children():
        if type(child) is nn.Conv3d:
            child.__class__ = OneDnnConv3d
        else:
            _use_onednn(child)


def prepare(model, conv_mode, training=False):
    """The model set up for a conv mode (in place where possible)."""
    torch.backends.mkldnn.enabled = True
    if conv_mode == 'onednn':
        _use_onednn(model)
    elif conv_mode == 'channels-last':
        model = model.to(memory_format=torch.channels_last_3d)
    elif conv_mode == 'to-mkldnn':
        if training:
            raise SystemExit('--conv-mode to-mkldnn converts weights for inference only')
        from torch.utils import mkldnn as mkldnn_utils
        model = mkldnn_utils.to_mkldnn(model)
    return model


def as_input(x, conv_mode):
    """x [B, 1, T, H, W] in the layout the mode feeds the network."""
    return x.contiguous(memory_format=torch.channels_last_3d) if conv_mode == 'channels-last' else x


def inference_runner(model, conv_mode):
    """run(patch float32 [T, H, W] numpy) → float32 [T, H, W] numpy, in eval mode without autograd."""
    model = prepare(model.eval(), conv_mode)

    def run(patch):
        with torch.inference_mode():
            x = as_input(torch.from_numpy(patch)[None, None], conv_mode)
            return model(x)[0, 0].contiguous().numpy()
    return run


def blas_library():
    """The BLAS shared object this process loaded (PyTorch's Debian build uses the system libblas.so.3)."""
    try:
        with open('/proc/self/maps') as f:
            libs = {line.split()[-1] for line in f if 'blas' in line.rsplit('/', 1)[-1]}
        return ', '.join(sorted(os.path.realpath(p) for p in libs)) or 'none loaded'
    except OSError:
        return 'unknown'


def describe(args):
    return {'torch': torch.__version__, 'numpy': np.__version__, 'threads': torch.get_num_threads(),
            'conv_mode': args.conv_mode, 'blas': blas_library(), 'cpu': platform.processor() or platform.machine()}
