// A small, strict RFC 6902 applier for the operations the engine emits (add, replace, remove, test). It lets
// the pure core prove its patches (planning over the patched template must yield nothing) and lets the
// `check` command show a patched manifest, without a dependency.
import type { JsonPatchOperation } from './types.js';
import { deepEqual } from '../runtime/json.js';

export class JsonPatchError extends Error {
  constructor(
    message: string,
    readonly operation: JsonPatchOperation,
  ) {
    super(message);
    this.name = 'JsonPatchError';
  }
}

/** RFC 6901: "~" → "~0", "/" → "~1". */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`JSON pointer ${JSON.stringify(pointer)} does not start with "/"`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

function arrayIndex(token: string, length: number, allowEnd: boolean): number | undefined {
  if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
  const index = Number(token);
  return index < length || (allowEnd && index === length) ? index : undefined;
}

/** Applies one operation in place to `root` and returns the (possibly replaced) root. */
function applyOperation(root: unknown, operation: JsonPatchOperation): unknown {
  const fail = (reason: string): never => {
    throw new JsonPatchError(`${operation.op} ${operation.path}: ${reason}`, operation);
  };
  if (operation.path !== '' && !operation.path.startsWith('/')) fail('path is not a JSON pointer');
  const tokens = parsePointer(operation.path);
  const last = tokens.pop();
  if (last === undefined) {
    // The whole document is the target.
    if (operation.op === 'remove') fail('cannot remove the document root');
    if (operation.op === 'test') return deepEqual(root, operation.value) ? root : fail('value differs');
    return structuredClone(operation.value);
  }
  let parent: unknown = root;
  for (const token of tokens) {
    if (!isContainer(parent)) return fail(`parent path does not exist`);
    if (Array.isArray(parent)) {
      const index = arrayIndex(token, parent.length, false);
      parent = index === undefined ? fail(`array index ${token} is out of range`) : parent[index];
    } else {
      parent = Object.prototype.hasOwnProperty.call(parent, token) ? parent[token] : fail(`parent path does not exist`);
    }
  }
  if (!isContainer(parent)) return fail('parent is not an object or array');
  if (Array.isArray(parent)) {
    const isAdd = operation.op === 'add';
    const index = isAdd && last === '-' ? parent.length : arrayIndex(last, parent.length, isAdd);
    if (index === undefined) return fail(`array index ${last} is out of range`);
    switch (operation.op) {
      case 'add':
        parent.splice(index, 0, structuredClone(operation.value));
        break;
      case 'replace':
        parent[index] = structuredClone(operation.value);
        break;
      case 'remove':
        parent.splice(index, 1);
        break;
      case 'test':
        if (!deepEqual(parent[index], operation.value)) fail('value differs');
        break;
    }
    return root;
  }
  const exists = Object.prototype.hasOwnProperty.call(parent, last);
  if (operation.op !== 'add' && !exists) return fail('target does not exist');
  switch (operation.op) {
    case 'add':
    case 'replace':
      // defineProperty, not assignment: a "__proto__" token must create a key, not swap the prototype.
      Object.defineProperty(parent, last, {
        value: structuredClone(operation.value),
        writable: true,
        enumerable: true,
        configurable: true,
      });
      break;
    case 'remove':
      delete parent[last];
      break;
    case 'test':
      if (!deepEqual(parent[last], operation.value)) fail('value differs');
      break;
  }
  return root;
}

/**
 * Returns a patched copy of `doc`; `doc` itself is never modified. Throws JsonPatchError when an operation
 * does not apply (missing parent, index out of range, failed test), as RFC 6902 requires the whole patch to
 * fail then.
 */
export function applyJsonPatch<T>(doc: T, operations: readonly JsonPatchOperation[]): T {
  let result: unknown = structuredClone(doc);
  for (const operation of operations) result = applyOperation(result, operation);
  return result as T;
}
