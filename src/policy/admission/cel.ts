// Compiles the engine's predicates (policy/predicate.ts) to CEL for the generated ValidatingAdmissionPolicy.
// Each construct has one translation with the same meaning on absent fields as the TypeScript interpreter:
// a field is read only behind `has()` guards, so "absent" never becomes a runtime error, and an absent field
// equals nothing. Objects reach the policy as `dyn` (one policy covers Pods and six workload kinds), so no
// expression depends on static types.
import type { Field, Literal, Predicate } from '../predicate.js';
import { isField } from '../predicate.js';

/** CEL expression for each bound name of the predicates, e.g. `{container: 'c', pod: 'variables.podSpec'}`. */
export type CelScope = Readonly<Record<string, string>>;

/** A CEL string literal (single-quoted; backslash and quote escaped). */
export function celString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

export function celLiteral(value: Literal): string {
  return typeof value === 'string' ? celString(value) : String(value);
}

export function celList(values: readonly string[]): string {
  return `[${values.map(celString).join(', ')}]`;
}

/** Field names that are CEL keywords or not identifiers would need quoting; the rule table uses none. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function base(scope: CelScope, f: Field): string {
  const root = scope[f.ref];
  if (root === undefined) throw new Error(`predicate refers to unbound name "${f.ref}"`);
  return root;
}

/** `[has(c.securityContext), has(c.securityContext.privileged)]` — the guards that make `access` safe. */
function guards(scope: CelScope, f: Field): string[] {
  let path = base(scope, f);
  const out: string[] = [];
  for (const step of f.path) {
    if (!IDENTIFIER.test(step)) throw new Error(`field step "${step}" is not a CEL identifier`);
    path = `${path}.${step}`;
    out.push(`has(${path})`);
  }
  return out;
}

function access(scope: CelScope, f: Field): string {
  return [base(scope, f), ...f.path].join('.');
}

function conjunction(parts: readonly string[]): string {
  if (parts.length === 0) return 'true';
  return parts.length === 1 ? (parts[0] ?? 'true') : `(${parts.join(' && ')})`;
}

function disjunction(parts: readonly string[]): string {
  if (parts.length === 0) return 'false';
  return parts.length === 1 ? (parts[0] ?? 'false') : `(${parts.join(' || ')})`;
}

/** Present: every guard holds (a bare bound name is always present unless it is null). */
function present(scope: CelScope, f: Field): string {
  return f.path.length === 0 ? `${access(scope, f)} != null` : conjunction(guards(scope, f));
}

export function celPredicate(predicate: Predicate, scope: CelScope): string {
  if ('all' in predicate) return conjunction(predicate.all.map((p) => celPredicate(p, scope)));
  if ('any' in predicate) return disjunction(predicate.any.map((p) => celPredicate(p, scope)));
  if ('not' in predicate) return `!(${celPredicate(predicate.not, scope)})`;
  if ('equals' in predicate) {
    const left = [...guards(scope, predicate.equals)];
    const { to } = predicate;
    if (isField(to)) {
      return conjunction([...left, ...guards(scope, to), `${access(scope, predicate.equals)} == ${access(scope, to)}`]);
    }
    return conjunction([...left, `${access(scope, predicate.equals)} == ${celLiteral(to)}`]);
  }
  if ('isSet' in predicate) return present(scope, predicate.isSet);
  if ('oneOf' in predicate) {
    return conjunction([...guards(scope, predicate.oneOf), `${access(scope, predicate.oneOf)} in ${celList(predicate.values)}`]);
  }
  if ('some' in predicate) {
    const inner = celPredicate(predicate.where, { ...scope, [predicate.as]: predicate.as });
    return conjunction([...guards(scope, predicate.some), `${access(scope, predicate.some)}.exists(${predicate.as}, ${inner})`]);
  }
  const then = celPredicate(predicate.then, scope);
  const otherwise = celPredicate(predicate.otherwise, scope);
  return `(${present(scope, predicate.ifSet)} ? ${then} : ${otherwise})`;
}

/** The list behind a field, or [] when absent: `(has(c.volumeMounts) ? c.volumeMounts : [])`. */
export function celListOrEmpty(f: Field, scope: CelScope): string {
  return `(${present(scope, f)} ? ${access(scope, f)} : [])`;
}

export function celAccess(f: Field, scope: CelScope): string {
  return access(scope, f);
}
