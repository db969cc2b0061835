/**
 * OME-NGFF ("OME-Zarr") metadata for a time-lapse: the multiscales entry of the image group,
 * read from version 0.4 (Zarr v2: `.zattrs`) or 0.5 (Zarr v3: `attributes.ome`), written as
 * either. Only the first (full-resolution) dataset is used; lower levels are for viewers.
 */
import { StackError } from '../../errors.js';

export interface OmeAxis {
  name: string;
  type?: string;
  unit?: string;
}

/** What a stack needs from the image's metadata. */
export interface OmeImage {
  /** "0.4" or "0.5". */
  version: string;
  /** Path of the full-resolution array inside the group. */
  path: string;
  axes: OmeAxis[];
  /** The full-resolution level's scale per axis (1 where none is given). */
  scale: number[];
}

/** The multiscales image in a group's attributes, or null when they hold none. */
export function readOmeImage(attributes: Record<string, unknown>, name: string): OmeImage | null {
  const ome = attributes['ome'] as Record<string, unknown> | undefined;
  const multiscales = (ome?.['multiscales'] ?? attributes['multiscales']) as unknown;
  if (multiscales === undefined) return null;
  const bad = (what: string) => new StackError(`Cannot read "${name}": its OME-Zarr metadata is malformed (${what}). Write it again with a tool that follows OME-NGFF 0.4 or 0.5`);
  if (!Array.isArray(multiscales) || multiscales.length === 0) throw bad('multiscales is not a non-empty list');
  const first = multiscales[0] as Record<string, unknown>;
  const version = String(ome?.['version'] ?? first['version'] ?? '0.4');
  const datasets = first['datasets'];
  if (!Array.isArray(datasets) || datasets.length === 0) throw bad('no datasets');
  const dataset = datasets[0] as Record<string, unknown>;
  if (typeof dataset['path'] !== 'string') throw bad('the first dataset has no path');
  const rawAxes = first['axes'];
  if (!Array.isArray(rawAxes)) throw bad('no axes list');
  // 0.3 listed axis names as strings; 0.4 and later as objects.
  const axes = rawAxes.map((a): OmeAxis => (typeof a === 'string' ? { name: a } : { ...(a as OmeAxis) }));
  if (axes.some((a) => typeof a.name !== 'string')) throw bad('an axis without a name');
  const transforms = (dataset['coordinateTransformations'] ?? []) as { type?: string; scale?: number[] }[];
  const scale = transforms.find((t) => t.type === 'scale')?.scale ?? axes.map(() => 1);
  if (scale.length !== axes.length) throw bad('the scale does not have one entry per axis');
  return { version, path: dataset['path'], axes, scale };
}

/** The image group's attributes for a (t, y, x) stack at one resolution level, path "0". */
export function omeAttributes(version: '0.4' | '0.5', axes: OmeAxis[], scale: number[], name: string): Record<string, unknown> {
  const multiscale = {
    ...(version === '0.4' ? { version } : {}),
    name,
    axes,
    datasets: [{ path: '0', coordinateTransformations: [{ type: 'scale', scale }] }],
  };
  return version === '0.4' ? { multiscales: [multiscale] } : { ome: { version, multiscales: [multiscale] } };
}
