"""A small TIFF stack reader and writer (uncompressed, one sample per pixel), so the reference
needs nothing beyond NumPy: enough for the stacks `srdtrans simulate` / `srdtrans denoise` write
and for ImageJ-style uncompressed stacks. Classic TIFF and BigTIFF, either byte order, strips.
"""
import struct

import numpy as np

_TYPES = {1: ('B', 1), 2: ('B', 1), 3: ('H', 2), 4: ('I', 4), 16: ('Q', 8), 13: ('I', 4)}
_SAMPLE = {(1, 8): 'u1', (1, 16): 'u2', (1, 32): 'u4', (2, 8): 'i1', (2, 16): 'i2', (2, 32): 'i4',
           (3, 32): 'f4', (3, 64): 'f8'}


def _pages(buf):
    order = {b'II': '<', b'MM': '>'}.get(bytes(buf[:2]))
    if order is None:
        raise ValueError('not a TIFF file')
    version = struct.unpack_from(order + 'H', buf, 2)[0]
    big = version == 43
    if not big and version != 42:
        raise ValueError(f'unknown TIFF version {version}')
    offset = struct.unpack_from(order + ('Q' if big else 'I'), buf, 8 if big else 4)[0]
    while offset:
        count = struct.unpack_from(order + ('Q' if big else 'H'), buf, offset)[0]
        pos = offset + (8 if big else 2)
        size = 20 if big else 12
        tags = {}
        for i in range(count):
            at = pos + i * size
            tag, typ = struct.unpack_from(order + 'HH', buf, at)
            n = struct.unpack_from(order + ('Q' if big else 'I'), buf, at + 4)[0]
            if typ not in _TYPES:
                continue
            fmt, width = _TYPES[typ]
            inline = 8 if big else 4
            data_at = at + (12 if big else 8)
            if n * width > inline:
                data_at = struct.unpack_from(order + ('Q' if big else 'I'), buf, data_at)[0]
            tags[tag] = struct.unpack_from(order + fmt * n, buf, data_at)
        yield order, tags
        offset = struct.unpack_from(order + ('Q' if big else 'I'), buf, pos + count * size)[0]


def read_stack(path):
    """[T, H, W] array in the file's sample type (one page per frame)."""
    with open(path, 'rb') as f:
        buf = f.read()
    frames = []
    for order, tags in _pages(buf):
        if tags.get(259, (1,))[0] != 1:
            raise ValueError(f'{path}: compressed TIFF is not supported here')
        if tags.get(277, (1,))[0] != 1 or 322 in tags:
            raise ValueError(f'{path}: only single-sample, stripped TIFF is supported here')
        w, h = tags[256][0], tags[257][0]
        dtype = np.dtype(order + _SAMPLE[(tags.get(339, (1,))[0], tags[258][0])])
        raw = b''.join(bytes(buf[o:o + n]) for o, n in zip(tags[273], tags[279]))
        frames.append(np.frombuffer(raw, dtype=dtype, count=w * h).reshape(h, w))
    return np.stack(frames).astype(dtype.newbyteorder('='))


def write_stack(path, data):
    """Little-endian classic TIFF, one uncompressed strip per frame."""
    data = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder('<'))
    t, h, w = data.shape
    fmt = {'u': 1, 'i': 2, 'f': 3}[data.dtype.kind]
    bits = data.dtype.itemsize * 8
    frame = h * w * data.dtype.itemsize
    n_tags = 10
    ifd_size = 2 + n_tags * 12 + 4
    first_data = 8
    first_ifd = first_data + t * frame
    out = bytearray(struct.pack('<2sHI', b'II', 42, first_ifd))
    out += data.tobytes()
    for k in range(t):
        at = first_ifd + k * ifd_size
        nxt = at + ifd_size if k + 1 < t else 0
        entries = [(256, 4, w), (257, 4, h), (258, 3, bits), (259, 3, 1), (262, 3, 1), (273, 4, first_data + k * frame),
                   (277, 3, 1), (278, 4, h), (279, 4, frame), (339, 3, fmt)]
        out += struct.pack('<H', n_tags)
        for tag, typ, val in entries:
            out += struct.pack('<HHI', tag, typ, 1) + (struct.pack('<HH', val, 0) if typ == 3 else struct.pack('<I', val))
        out += struct.pack('<I', nxt)
    tmp = f'{path}.partial'
    with open(tmp, 'wb') as f:
        f.write(out)
    import os
    os.replace(tmp, path)
