/** TIFF stacks in Node: files (streaming reader, atomic streaming writer) and the codec on bytes. */
export {
  TiffStackReader, type ReadOptions, type TiffStack, type TiffStackInfo,
} from './reader.js';
export { encodeTiff, planTiff, TiffEncoder, TiffStreamEncoder, type TiffPlan, type WriteAt, type WriteOptions } from './writer.js';
export { openStack, readStack, readStackInfo, TiffStackWriter, writeStack } from './files.js';
export type { TiffFormat } from './axes.js';
