"""SRDTrans in PyTorch, written from /work/shared/SRDTRANS.md, with the published parameter names
so that `srdtrans export --pth` state dicts load with load_state_dict(strict=True).

Module tree (names are what the state dict keys are made of):
  encoders.{i}.conv_net.SingleConv{1,2}.Conv3d, encoders.{i}.down_sample
  decoders.{i}.conv_net.SingleConv{1,2}.Conv3d, decoders.{i}.up_sample
  conv_before_trans.Conv3d, conv_after_trans.Conv3d
  layers.{k}.timeTrans.{transformer.net.{0..3}, position_encoding, pre_head_ln}
  layers.{k}.spaceTrans.transformer.blocks.{0,1}
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.1


class ModelConfig:
    """Hyper-parameters; defaults are the published ones (patch_t as given)."""

    def __init__(self, f_maps=(8, 16, 32, 64), embed_dim=128, heads=8, mlp_dim=512, window=7, blocks=1,
                 patch_t=128, attn_dropout=0.1):
        self.f_maps = list(f_maps)
        self.embed_dim = embed_dim
        self.heads = heads
        self.mlp_dim = mlp_dim
        self.window = window
        self.blocks = blocks
        self.patch_t = patch_t
        self.attn_dropout = attn_dropout

    @property
    def seq_len(self):
        return self.patch_t // 2 ** len(self.f_maps)

    @staticmethod
    def from_state_dict(sd, attn_dropout=0.1):
        """The architecture, read from the tensor shapes (a .pth carries no configuration)."""
        f_maps = []
        while f'encoders.{len(f_maps)}.conv_net.SingleConv2.Conv3d.weight' in sd:
            f_maps.append(sd[f'encoders.{len(f_maps)}.conv_net.SingleConv2.Conv3d.weight'].shape[0])
        blocks = len({k.split('.')[1] for k in sd if k.startswith('layers.')})
        table = sd['layers.0.spaceTrans.transformer.blocks.0.attn.relative_position_bias_table']
        side = round(math.sqrt(table.shape[0]))
        seq = sd['layers.0.timeTrans.position_encoding.position_embeddings'].shape[1]
        return ModelConfig(f_maps=f_maps, embed_dim=sd['conv_before_trans.Conv3d.weight'].shape[0],
                           heads=table.shape[1], mlp_dim=sd['layers.0.spaceTrans.transformer.blocks.0.mlp.fc1.weight'].shape[0],
                           window=(side + 1) // 2, blocks=blocks, patch_t=seq * 2 ** len(f_maps), attn_dropout=attn_dropout)


# ---------------------------------------------------------------- convolutional path

class SingleConv(nn.Module):
    """Conv3d k3 p1 + LeakyReLU(0.1); the Conv3d sits under the name 'Conv3d'."""

    def __init__(self, cin, cout):
        super().__init__()
        self.Conv3d = nn.Conv3d(cin, cout, 3, padding=1)

    def forward(self, x):
        return F.leaky_relu(self.Conv3d(x), LEAKY_SLOPE)


class DoubleConv(nn.Module):
    def __init__(self, cin, mid, cout):
        super().__init__()
        self.SingleConv1 = SingleConv(cin, mid)
        self.SingleConv2 = SingleConv(mid, cout)

    def forward(self, x):
        return self.SingleConv2(self.SingleConv1(x))


class Encoder(nn.Module):
    """conv1 cin → max(c/2, cin), conv2 → c (the skip), then a T-halving strided conv (no activation)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv_net = DoubleConv(cin, max(cout // 2, cin), cout)
        self.down_sample = nn.Conv3d(cout, cout, 3, stride=(2, 1, 1), padding=1)

    def forward(self, x):
        skip = self.conv_net(x)
        return skip, self.down_sample(skip)


class Decoder(nn.Module):
    """T-doubling transposed conv, plus the skip, then conv1 cin → c, conv2 c → c."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv_net = DoubleConv(cin, cout, cout)
        self.up_sample = nn.ConvTranspose3d(cin, cin, (4, 3, 3), stride=(2, 1, 1), padding=1)

    def forward(self, x, skip):
        return self.conv_net(self.up_sample(x) + skip)


# ---------------------------------------------------------------- temporal transformer

class SelfAttention(nn.Module):
    """Multi-head attention; scores scaled after the product; dropout on probabilities and output."""

    def __init__(self, dim, heads, rate):
        super().__init__()
        self.heads = heads
        self.scale = (dim / heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.attn_drop = nn.Dropout(rate)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(rate)

    def forward(self, x):
        n, length, dim = x.shape
        q, k, v = self.qkv(x).reshape(n, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        probs = self.attn_drop(((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1))
        out = (probs @ v).transpose(1, 2).reshape(n, length, dim)
        return self.proj_drop(self.proj(out))


class FeedForward(nn.Module):
    """Linear, GELU (erf), Dropout(0), Linear, Dropout(0): indices 0 and 3 hold weights."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, dim), nn.Dropout(0.0))

    def forward(self, x):
        return self.net(x)


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.norm(x))


class Residual(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return x + self.fn(x)


class TemporalEncoder(nn.Module):
    def __init__(self, dim, heads, hidden, rate, depth=2):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [Residual(PreNorm(dim, SelfAttention(dim, heads, rate))), Residual(PreNorm(dim, FeedForward(dim, hidden)))]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class PositionEncoding(nn.Module):
    def __init__(self, length, dim):
        super().__init__()
        self.position_embeddings = nn.Parameter(torch.zeros(1, length, dim))

    def forward(self, x):
        return x + self.position_embeddings


class TemporalTransformer(nn.Module):
    """One sequence of length S per (b, h, w) of the [B, E, S, H, W] bottleneck."""

    def __init__(self, cfg):
        super().__init__()
        self.transformer = TemporalEncoder(cfg.embed_dim, cfg.heads, cfg.mlp_dim, cfg.attn_dropout)
        self.position_encoding = PositionEncoding(cfg.seq_len, cfg.embed_dim)
        self.pre_head_ln = nn.LayerNorm(cfg.embed_dim)

    def forward(self, x):
        b, e, s, h, w = x.shape
        seq = x.permute(0, 3, 4, 2, 1).reshape(b * h * w, s, e)
        seq = self.pre_head_ln(self.transformer(self.position_encoding(seq)))
        return seq.reshape(b, h, w, s, e).permute(0, 4, 3, 1, 2)


# ---------------------------------------------------------------- spatial (Swin) transformer

def relative_position_index(w):
    """index[i, j] = (ri − rj + w − 1)·(2w − 1) + (ci − cj + w − 1), tokens row-major in a w×w window."""
    r = torch.arange(w).repeat_interleave(w)
    c = torch.arange(w).repeat(w)
    return (r[:, None] - r[None, :] + w - 1) * (2 * w - 1) + (c[:, None] - c[None, :] + w - 1)


def to_windows(x, w):
    """[N, Hp, Wp, C] → [N·nW, w², C], windows row-major."""
    n, hp, wp, c = x.shape
    return x.reshape(n, hp // w, w, wp // w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, c)


def from_windows(x, w, n, hp, wp):
    c = x.shape[-1]
    return x.reshape(n, hp // w, wp // w, w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(n, hp, wp, c)


def shift_mask(hp, wp, w, s):
    """−100 between tokens of a window that came from different regions of the padded grid."""
    def region(length):
        v = torch.arange(length)
        return (v >= length - w).long() + (v >= length - s).long()
    labels = (3 * region(hp)[:, None] + region(wp)[None, :]).float()
    lw = to_windows(labels[None, :, :, None], w)[..., 0]        # [nW, w²]
    diff = lw[:, None, :] - lw[:, :, None]
    return torch.where(diff != 0, torch.tensor(-100.0), torch.tensor(0.0))


class WindowAttention(nn.Module):
    def __init__(self, dim, heads, w, rate):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * w - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer('relative_position_index', relative_position_index(w))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.attn_drop = nn.Dropout(rate)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask):
        m, n, dim = x.shape
        q, k, v = self.qkv(x).reshape(m, n, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        scores = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        scores = scores + bias.reshape(n, n, self.heads).permute(2, 0, 1)[None]
        if mask is not None:
            nw = mask.shape[0]
            scores = (scores.reshape(m // nw, nw, self.heads, n, n) + mask[None, :, None]).reshape(m, self.heads, n, n)
        probs = self.attn_drop(scores.softmax(dim=-1))
        return self.proj((probs @ v).transpose(1, 2).reshape(m, n, dim))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class SwinBlock(nn.Module):
    def __init__(self, dim, heads, hidden, w, shift, rate):
        super().__init__()
        self.window = w
        self.shift = shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, w, rate)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x):
        n, h, wd, c = x.shape
        w, s = self.window, self.shift
        hp, wp = -(-h // w) * w, -(-wd // w) * w
        # Padding after the norm: padded tokens are zeros that take part in (unshifted) attention.
        y = F.pad(self.norm1(x), (0, 0, 0, wp - wd, 0, hp - h))
        mask = None
        if s > 0:
            y = torch.roll(y, (-s, -s), dims=(1, 2))
            mask = shift_mask(hp, wp, w, s).to(y.dtype)
        y = from_windows(self.attn(to_windows(y, w), mask), w, n, hp, wp)
        if s > 0:
            y = torch.roll(y, (s, s), dims=(1, 2))
        x = x + y[:, :h, :wd, :]
        return x + self.mlp(self.norm2(x))


class SwinStack(nn.Module):
    def __init__(self, cfg, depth=2):
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(cfg.embed_dim, cfg.heads, cfg.mlp_dim, cfg.window, 0 if j % 2 == 0 else cfg.window // 2, cfg.attn_dropout)
            for j in range(depth))

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return x


class SpatialTransformer(nn.Module):
    """(B·S) images of H×W tokens."""

    def __init__(self, cfg):
        super().__init__()
        self.transformer = SwinStack(cfg)

    def forward(self, x):
        b, e, s, h, w = x.shape
        y = self.transformer(x.permute(0, 2, 3, 4, 1).reshape(b * s, h, w, e))
        return y.reshape(b, s, h, w, e).permute(0, 4, 1, 2, 3)


class TransformerPair(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.timeTrans = TemporalTransformer(cfg)
        self.spaceTrans = SpatialTransformer(cfg)

    def forward(self, x):
        return self.spaceTrans(self.timeTrans(x))


# ---------------------------------------------------------------- the network

class SRDTrans(nn.Module):
    """Input [B, 1, T, H, W] with T = cfg.patch_t; output the same shape."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        chans = [1] + cfg.f_maps
        self.encoders = nn.ModuleList(Encoder(chans[i], chans[i + 1]) for i in range(len(cfg.f_maps)))
        rev = cfg.f_maps[::-1] + [1]
        self.decoders = nn.ModuleList(Decoder(rev[i], rev[i + 1]) for i in range(len(cfg.f_maps)))
        self.conv_before_trans = SingleConv(cfg.f_maps[-1], cfg.embed_dim)
        self.conv_after_trans = SingleConv(cfg.embed_dim, cfg.f_maps[-1])
        self.layers = nn.ModuleList(TransformerPair(cfg) for _ in range(cfg.blocks))

    def forward(self, x):
        skips = []
        for enc in self.encoders:
            skip, x = enc(x)
            skips.append(skip)
        x = self.conv_before_trans(x)
        for layer in self.layers:
            x = layer(x)
        x = self.conv_after_trans(x)
        for dec, skip in zip(self.decoders, reversed(skips)):
            x = dec(x, skip)
        return x


def load_model(pth, attn_dropout=0.1):
    """A network built from a state dict's shapes, its weights loaded strictly (DataParallel's 'module.' accepted)."""
    sd = torch.load(pth, map_location='cpu')
    if isinstance(sd, dict) and 'state_dict' in sd:
        sd = sd['state_dict']
    sd = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in sd.items()}
    model = SRDTrans(ModelConfig.from_state_dict(sd, attn_dropout))
    model.load_state_dict(sd, strict=True)
    return model
