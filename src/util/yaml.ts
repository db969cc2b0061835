/**
 * A YAML emitter for plain data (maps, lists, strings, finite numbers, booleans, null) in block
 * style, enough for a BioImage Model Zoo rdf.yaml. Strings are written plain only when no YAML
 * 1.1 or 1.2 reader could take them for anything else (a number, a boolean, null, a date, an
 * indicator); every other string is double-quoted with JSON escapes, which both YAML versions
 * read the same way. Small enough to own rather than add a runtime dependency.
 */

export type YamlValue = string | number | boolean | null | readonly YamlValue[] | { readonly [key: string]: YamlValue | undefined };

const PLAIN = /^[A-Za-z_][A-Za-z0-9_ ./()+-]*$/;
// Words YAML 1.1 (deepImageJ's SnakeYAML) or 1.2 read as booleans or null.
const RESERVED = /^(y|n|yes|no|on|off|true|false|null|nan|inf)$/i;

function scalar(v: string | number | boolean | null): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`YAML: cannot write the number ${v}`);
    return String(v);
  }
  const plain = PLAIN.test(v) && !RESERVED.test(v) && !v.endsWith(' ') && !v.includes(' #') && !v.includes(': ');
  return plain ? v : JSON.stringify(v);
}

function isScalar(v: YamlValue): v is string | number | boolean | null {
  return v === null || typeof v !== 'object';
}

function isEmpty(v: YamlValue): boolean {
  return !isScalar(v) && (Array.isArray(v) ? v.length === 0 : Object.values(v).every((x) => x === undefined));
}

function emptyOf(v: YamlValue): string {
  return Array.isArray(v) ? '[]' : '{}';
}

function lines(v: YamlValue, indent: string): string[] {
  const out: string[] = [];
  if (Array.isArray(v)) {
    for (const item of v as readonly YamlValue[]) {
      if (isScalar(item) || isEmpty(item)) {
        out.push(`${indent}- ${isScalar(item) ? scalar(item) : emptyOf(item)}`);
        continue;
      }
      // The first line of a nested block goes on the dash's line.
      const nested = lines(item, indent + '  ');
      out.push(`${indent}- ${nested[0]!.slice(indent.length + 2)}`, ...nested.slice(1));
    }
    return out;
  }
  for (const [key, value] of Object.entries(v as { [key: string]: YamlValue | undefined })) {
    if (value === undefined) continue;
    const k = scalar(key);
    if (isScalar(value) || isEmpty(value)) out.push(`${indent}${k}: ${isScalar(value) ? scalar(value) : emptyOf(value)}`);
    else out.push(`${indent}${k}:`, ...lines(value, indent + '  '));
  }
  return out;
}

/** The document for a map or list (keys with an undefined value are left out). */
export function toYaml(doc: YamlValue): string {
  if (isScalar(doc)) return scalar(doc) + '\n';
  if (isEmpty(doc)) return emptyOf(doc) + '\n';
  return lines(doc, '').join('\n') + '\n';
}
