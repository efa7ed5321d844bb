/**
 * Checks a tool call's arguments against the tool's JSON Schema — the subset tools use: `type` (object, string,
 * number, integer, boolean, array, null, or a list of them), `properties`, `required`, `additionalProperties:
 * false`, `enum`, `items`, `minLength` / `maxLength`, `minimum` / `maximum`. Keywords outside the subset are
 * ignored (not enforced). Returns what is wrong, in words an LLM can act on; empty when the arguments are fine.
 */

type Schema = Record<string, unknown>;

const MAX_PROBLEMS = 10;

export function checkArguments(schema: unknown, value: unknown): string[] {
  const problems: string[] = [];
  check(isObject(schema) ? schema : {}, value, '', problems);
  return problems.slice(0, MAX_PROBLEMS);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function matchesType(type: string, v: unknown): boolean {
  const t = typeOf(v);
  if (type === 'number') return (t === 'number' || t === 'integer') && Number.isFinite(v as number);
  return t === type;
}

function check(schema: Schema, value: unknown, path: string, problems: string[]): void {
  if (problems.length >= MAX_PROBLEMS) return;
  const where = path || 'the arguments';
  const types = typeof schema.type === 'string' ? [schema.type] : Array.isArray(schema.type) ? schema.type.filter((t): t is string => typeof t === 'string') : [];
  if (types.length > 0 && !types.some((t) => matchesType(t, value))) {
    problems.push(`${where} must be ${types.join(' or ')}, not ${typeOf(value)}`);
    return;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => e === value)) {
    problems.push(`${where} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`);
    return;
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) problems.push(`${where} must be at least ${schema.minLength} characters`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) problems.push(`${where} must be at most ${schema.maxLength} characters`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) problems.push(`${where} must be at least ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) problems.push(`${where} must be at most ${schema.maximum}`);
  }
  if (Array.isArray(value) && isObject(schema.items)) {
    value.forEach((item, i) => check(schema.items as Schema, item, `${where}[${i}]`, problems));
  }
  if (isObject(value)) {
    const props = isObject(schema.properties) ? schema.properties : {};
    const prefix = path ? `${path}.` : '';
    if (Array.isArray(schema.required)) {
      for (const key of schema.required) if (typeof key === 'string' && !(key in value)) problems.push(`"${prefix}${key}" is required`);
    }
    for (const [key, v] of Object.entries(value)) {
      const sub = props[key];
      if (isObject(sub)) check(sub, v, `"${prefix}${key}"`, problems);
      else if (schema.additionalProperties === false) problems.push(`"${prefix}${key}" is not a parameter of this tool (it takes: ${Object.keys(props).join(', ') || 'nothing'})`);
    }
  }
}
