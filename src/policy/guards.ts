// Narrowing for objects that arrive as parsed YAML/JSON: the engine must report malformed input, not crash.

export function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
