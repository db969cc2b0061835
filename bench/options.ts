/**
 * Checked option values for the benches: a bad value throws BenchOptionError, which
 * bench/index.ts prints as one line (as it does node:util parseArgs' own errors).
 */
export class BenchOptionError extends Error {
  override name = 'BenchOptionError';
}

/** A positive integer option. */
export function positiveInt(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new BenchOptionError(`--${name}: expected a positive integer, got '${value}'`);
  return n;
}

/** An integer option (any sign). */
export function integer(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new BenchOptionError(`--${name}: expected an integer, got '${value}'`);
  return n;
}

/** A comma-separated list of positive integers. */
export function positiveInts(name: string, value: string | undefined): number[] {
  return (value ?? '').split(',').map((v) => positiveInt(name, v));
}

/** A positive number option. */
export function positiveNumber(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new BenchOptionError(`--${name}: expected a positive number, got '${value}'`);
  return n;
}

/** One of `choices`. */
export function oneOf<T extends string>(name: string, value: string | undefined, choices: readonly T[]): T {
  if (!choices.includes(value as T)) throw new BenchOptionError(`--${name}: expected ${choices.join(' or ')}, got '${value}'`);
  return value as T;
}

/** Every item of a comma-separated list one of `choices`. */
export function listOf<T extends string>(name: string, value: string | undefined, choices: readonly T[]): T[] {
  return (value ?? '').split(',').map((v) => oneOf(name, v, choices));
}

/** Whether err is a bad command line: ours, or node:util parseArgs' (unknown option, missing value). */
export function isOptionError(err: unknown): err is Error {
  if (err instanceof BenchOptionError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
