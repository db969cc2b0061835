/** TIFF stack input/output: streaming reader, atomic streaming writer, axis metadata. */
export {
  openStack, readStack, readStackInfo, TiffStackReader,
  type ReadOptions, type TiffStack, type TiffStackInfo,
} from './reader.js';
export { planTiff, TiffStackWriter, writeStack, type TiffPlan, type WriteOptions } from './writer.js';
export type { TiffFormat } from './axes.js';
