/**
 * The stacks open in the worker, read lazily from their files, each with its denoised output
 * once there is one; one of them is shown, and frames, traces and denoising are of that one.
 */
import { blobSource, formatStackSummary, summarizeStack, TiffStackReader, UserError, type ByteSource, type Stack } from '../../src/index.js';
import type { GridFields, StackOpened } from './protocol.js';
import { polygonPixels, type Point } from './region.js';

export interface OpenStack {
  name: string;
  reader: TiffStackReader;
  /** The denoised stack, read back from the file the page downloads. */
  output: TiffStackReader | null;
}

export class OpenStacks {
  private stacks: OpenStack[] = [];
  private shownIndex = 0;

  /** Replaces the open stacks; all are opened first, so that a bad file leaves those open before in place. */
  async open(sources: ReadonlyArray<{ source: ByteSource; name: string }>): Promise<string[]> {
    const opened: OpenStack[] = [];
    try {
      for (const { source, name } of sources) opened.push({ name, reader: await TiffStackReader.open(source, name), output: null });
    } catch (err) {
      for (const s of opened) await s.reader.close();
      throw err;
    }
    for (const s of this.stacks) await s.reader.close();
    this.stacks = opened;
    this.shownIndex = 0;
    return opened.map((s) => s.name);
  }

  openFiles(files: readonly File[]): Promise<string[]> {
    return this.open(files.map((file) => ({ source: blobSource(file), name: file.name })));
  }

  select(index: number): void {
    if (!this.stacks[index]) throw new UserError(`stack ${index + 1}: only ${this.stacks.length} stacks are open`);
    this.shownIndex = index;
  }

  /** The shown stack. */
  shown(): OpenStack {
    const s = this.stacks[this.shownIndex];
    if (!s) throw new UserError('open a TIFF stack first (file picker or drop it on the page)');
    return s;
  }

  hasShown(): boolean {
    return this.stacks.length > 0;
  }

  /** Every open stack (training uses them all). */
  all(): readonly OpenStack[] {
    this.shown(); // none open: the same message
    return this.stacks;
  }

  async describeShown(grid: GridFields): Promise<StackOpened> {
    const { name, reader } = this.shown();
    const summary = await summarizeStack(reader, name, grid);
    return { name, shape: reader.shape, summary, text: formatStackSummary(summary) };
  }
}

/** A stack read whole, for training. */
export async function wholeStack(s: OpenStack): Promise<Stack> {
  const [t, h, w] = s.reader.shape;
  return { data: await s.reader.readFrames(0, t), shape: [t, h, w], dtype: s.reader.dtype };
}

/** The mean of the pixels inside `polygon` in every frame, read a batch of frames at a time (never the whole stack). */
export async function regionTrace(reader: TiffStackReader, polygon: readonly Point[]): Promise<{ trace: Float32Array; pixels: number }> {
  const [t, h, w] = reader.shape;
  const pixels = polygonPixels(polygon, h, w);
  if (pixels.length === 0) throw new UserError('the region covers no pixel centre of the frame; draw a larger one, inside the frame');
  const trace = new Float32Array(t);
  const batch = Math.max(1, Math.floor(4_194_304 / (h * w)));
  for (let start = 0; start < t; start += batch) {
    const count = Math.min(batch, t - start);
    const data = await reader.readFrames(start, count);
    for (let k = 0; k < count; k++) {
      let sum = 0;
      for (const i of pixels) sum += data[k * h * w + i]!;
      trace[start + k] = sum / pixels.length;
    }
  }
  return { trace, pixels: pixels.length };
}
