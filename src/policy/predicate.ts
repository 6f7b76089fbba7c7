// A small predicate language over a container and its pod spec. The spec rules are written in it once
// (rules.ts); this module decides them in TypeScript for `check` and the controller, and admission/cel.ts
// compiles the very same predicates to CEL for the generated ValidatingAdmissionPolicy, so the three
// enforcement points cannot disagree on what a rule means. Kept deliberately tiny: every construct here must
// have an obvious CEL counterpart with the same meaning on absent fields.

/** A value read from the context: a field path under `container`, `pod` (the pod spec) or a bound item. */
export interface Field {
  readonly ref: string;
  readonly path: readonly string[];
}

export type Predicate =
  | { readonly all: readonly Predicate[] }
  | { readonly any: readonly Predicate[] }
  | { readonly not: Predicate }
  /** The field is present and equal to the literal (or to another present field); absent equals nothing. */
  | { readonly equals: Field; readonly to: Literal | Field }
  | { readonly isSet: Field }
  /** The field is present and one of the strings. */
  | { readonly oneOf: Field; readonly values: readonly string[] }
  /** The field is a present list with an item (bound to `as`) for which `where` holds. */
  | { readonly some: Field; readonly as: string; readonly where: Predicate }
  /** `then` when the field is present, `otherwise` when it is absent (a field that overrides another). */
  | { readonly ifSet: Field; readonly then: Predicate; readonly otherwise: Predicate };

export type Literal = string | number | boolean;

export function isField(value: Literal | Field): value is Field {
  return typeof value === 'object';
}

export const CONTAINER = 'container';
export const POD = 'pod';

/** `field('container', 'securityContext.privileged')` */
export function field(ref: string, path = ''): Field {
  return { ref, path: path === '' ? [] : path.split('.') };
}

export type Bindings = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Absent (undefined) when any step is missing or null, as CEL's `has()` sees it. */
export function read(bindings: Bindings, f: Field): unknown {
  let value: unknown = bindings[f.ref];
  for (const step of f.path) {
    if (!isObject(value)) return undefined;
    value = value[step];
  }
  return value === null ? undefined : value;
}

export function holds(predicate: Predicate, bindings: Bindings): boolean {
  if ('all' in predicate) return predicate.all.every((p) => holds(p, bindings));
  if ('any' in predicate) return predicate.any.some((p) => holds(p, bindings));
  if ('not' in predicate) return !holds(predicate.not, bindings);
  if ('equals' in predicate) {
    const value = read(bindings, predicate.equals);
    const other = isField(predicate.to) ? read(bindings, predicate.to) : predicate.to;
    return value !== undefined && value === other;
  }
  if ('isSet' in predicate) return read(bindings, predicate.isSet) !== undefined;
  if ('oneOf' in predicate) {
    const value = read(bindings, predicate.oneOf);
    return typeof value === 'string' && predicate.values.includes(value);
  }
  if ('some' in predicate) {
    const list = read(bindings, predicate.some);
    return Array.isArray(list) && (list as unknown[]).some((item) => holds(predicate.where, { ...bindings, [predicate.as]: item }));
  }
  const branch = read(bindings, predicate.ifSet) !== undefined ? predicate.then : predicate.otherwise;
  return holds(branch, bindings);
}
