"""Third-party OME-Zarr fixtures for test/io/zarr.test.ts, written by zarr-python (v2 format).

Run with Debian's python3-zarr: /usr/bin/python3 tools/make-zarr-fixtures.py
Writes test/fixtures/zarr/tczyx.ome.zarr: OME-NGFF 0.4, axes t, c, z, y, x (3, 2, 2, 8, 10),
uint16, zarr-python's default Blosc compressor, chunks that split every axis, a physical scale;
the value at (t, c, z, y, x) is 10000*c + 1000*t + 100*z + 10*y + x, so a test can check any
voxel without the file.
"""
import os
import shutil

import numpy as np
import zarr

out = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'zarr', 'tczyx.ome.zarr')
shutil.rmtree(out, ignore_errors=True)
t, c, z, y, x = np.meshgrid(*[np.arange(n) for n in (3, 2, 2, 8, 10)], indexing='ij')
data = (10000 * c + 1000 * t + 100 * z + 10 * y + x).astype('<u2')
group = zarr.open_group(out, mode='w')
group.create_dataset('0', data=data, chunks=(2, 1, 1, 5, 6), dimension_separator='/')
group.attrs['multiscales'] = [{
    'version': '0.4',
    'name': 'fixture',
    'axes': [
        {'name': 't', 'type': 'time', 'unit': 'second'},
        {'name': 'c', 'type': 'channel'},
        {'name': 'z', 'type': 'space', 'unit': 'micrometer'},
        {'name': 'y', 'type': 'space', 'unit': 'micrometer'},
        {'name': 'x', 'type': 'space', 'unit': 'micrometer'},
    ],
    'datasets': [{'path': '0', 'coordinateTransformations': [{'type': 'scale', 'scale': [3.3, 1, 2.0, 0.5, 0.5]}]}],
}]
