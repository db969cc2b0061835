import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; help: string; default?: string | number | boolean }>;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** parseArgs with errors a user can act on, and `--help` text built from the same spec. */
export function parseCommand(command: string, synopsis: string, spec: OptionSpec, args: string[]): ParsedArgs | 'help' {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(helpText(command, synopsis, spec));
    return 'help';
  }
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, o] of Object.entries(spec)) options[name] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (err) {
    // Node's text may span lines (e.g. how to pass a value starting with '-'); drop only its advice
    // about positional arguments after '--', which does not apply to an unknown option here.
    const message = (err as Error).message.split('\n').join(' ').replace(/\. To specify a positional argument.*$/, '').replace(/\.$/, '');
    throw new ConfigError(`${command}: ${message}; see 'srdtrans ${command} --help'`, { cause: err });
  }
}

export function helpText(command: string, synopsis: string, spec: OptionSpec): string {
  const rows = Object.entries(spec).map(([name, o]) => {
    const flag = `--${name}${o.type === 'string' ? ' <value>' : ''}`;
    const def = o.default !== undefined ? ` (default ${String(o.default)})` : '';
    return `  ${flag.padEnd(26)} ${o.help}${def}`;
  });
  return `usage: srdtrans ${command} ${synopsis}\n\noptions:\n${rows.join('\n')}\n  --debug                    show stack traces on errors\n`;
}

export function stringOption(values: ParsedArgs['values'], name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A number option, checked against a range; `integer` refuses fractions. */
export function numberOption(
  values: ParsedArgs['values'], name: string, fallback: number,
  range: { min?: number; max?: number; integer?: boolean } = {},
): number {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  const { min = -Infinity, max = Infinity, integer = false } = range;
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    const bounds = [Number.isFinite(min) ? `>= ${min}` : '', Number.isFinite(max) ? `<= ${max}` : ''].filter(Boolean).join(' and ');
    throw new ConfigError(`--${name} ${raw}: expected ${integer ? 'an integer' : 'a number'}${bounds ? ' ' + bounds : ''}`);
  }
  return v;
}

export function listOption(values: ParsedArgs['values'], name: string, fallback: number[]): number[] {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback;
  const items = raw.split(',').map((s) => Number(s.trim()));
  if (items.length === 0 || items.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new ConfigError(`--${name} ${raw}: expected comma-separated positive integers, e.g. 8,16,32,64`);
  }
  return items;
}

export function choiceOption<T extends string>(values: ParsedArgs['values'], name: string, choices: readonly T[], fallback: T): T {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new ConfigError(`--${name} ${raw}: expected one of ${choices.join(', ')}`);
  }
  return raw as T;
}

/** A thread count option: `auto` (or absent) gives 'auto', else a whole number >= 1. */
export function threadCountOption(values: ParsedArgs['values'], name: string): number | 'auto' {
  const raw = values[name];
  if (raw === undefined || raw === 'auto') return 'auto';
  if (!/^[1-9]\d*$/.test(String(raw))) throw new ConfigError(`--${name} ${String(raw)}: expected auto or a whole number of threads >= 1`);
  return Number(raw);
}
