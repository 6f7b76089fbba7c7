// Globs over names (namespaces, containers, image references). Only `*` (any run of characters, including
// `/`, so "registry.example.com/legacy/*" covers nested repositories) and `?` (one character other than `/`)
// are special; braces, brackets, extglobs and leading `!` are taken literally because Kubernetes names and
// image references never need them and a user would not expect `!` to negate a list entry.
import { LRUCache } from 'lru-cache';
import picomatch from 'picomatch';

const GLOB_OPTIONS: picomatch.PicomatchOptions = {
  bash: true, // a single `*` crosses `/`
  dot: true, // `*` also matches names that start with `.`
  nobrace: true,
  nobracket: true,
  noextglob: true,
  nonegate: true,
};

// Compiling a glob costs far more than running it and the same few patterns are matched against every pod,
// so compiled matchers are memoised. The cache is bounded and cannot change any result.
const matchers = new LRUCache<string, (value: string) => boolean>({ max: 1024 });

function compile(pattern: string): (value: string) => boolean {
  let matcher = matchers.get(pattern);
  if (matcher === undefined) {
    // With `nobrace`, picomatch still passes `{n}` through as a regex quantifier; escaping keeps it literal.
    matcher = picomatch(pattern.replace(/[{}]/g, '\\$&'), GLOB_OPTIONS);
    matchers.set(pattern, matcher);
  }
  return matcher;
}

export function globMatch(pattern: string, value: string): boolean {
  if (pattern === value) return true;
  if (pattern === '' || value === '') return false;
  return compile(pattern)(value);
}

/** True when any pattern in the list matches. */
export function globMatchAny(patterns: readonly string[], value: string): boolean {
  return patterns.some((pattern) => globMatch(pattern, value));
}
