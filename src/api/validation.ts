// Validates ImmutabilityPolicy objects the way the API server does, without a cluster: the CRD's structural
// schema (compiled with ajv, with defaults applied) followed by the cross-field rules of semantic.ts, which
// mirror the CRD's CEL rules. The CRD file is read at runtime, so the schema has exactly one source.
//
// Compiling the schema costs more than everything else a `check` of one file does, so the packaged CRD's
// validator is also generated ahead of time (policy-validator.generated.ts, by
// tools/generate-policy-validator.ts) and used while the CRD's digest matches the one it was generated from;
// any other CRD is compiled as before. ajv and `yaml` are loaded only when compiling.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Ajv, CodeOptions, ErrorObject, SchemaObject, ValidateFunction } from 'ajv';
import type * as AjvModule from 'ajv';
import type * as AjvFormats from 'ajv-formats';
import type * as Yaml from 'yaml';
import * as generated from './policy-validator.generated.js';
import { semanticErrors } from './semantic.js';
import { API_VERSION, KIND, VERSION } from './types.js';
import type { ImmutabilityPolicy } from './types.js';
import { isRecord } from '../runtime/json.js';

export const CRD_FILE_NAME = 'immutability.dev_immutabilitypolicies.yaml';

export type PolicyValidationResult = { ok: true; policy: ImmutabilityPolicy } | { ok: false; errors: string[] };
export type PolicyValidator = (obj: unknown) => PolicyValidationResult;

/** The subset of an OpenAPI v3 (structural) schema this module reads; everything else is passed through. */
export interface StructuralSchema {
  type?: string;
  properties?: Record<string, StructuralSchema>;
  items?: StructuralSchema;
  additionalProperties?: StructuralSchema | boolean;
  [keyword: string]: unknown;
}

/**
 * Where the CRD lives: `crds/` at the package root. The compiled module sits in `dist/src/api/` (three levels
 * down); running from `src/api/` (two levels down) is allowed too, so tools that execute TypeScript directly
 * find it.
 */
export function defaultCrdPath(): string {
  const candidates = [`../../../crds/${CRD_FILE_NAME}`, `../../crds/${CRD_FILE_NAME}`].map((relative) =>
    fileURLToPath(new URL(relative, import.meta.url)),
  );
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found === undefined) throw new Error(`CRD ${CRD_FILE_NAME} not found (looked at ${candidates.join(', ')})`);
  return found;
}


const require = createRequire(import.meta.url);

/** Reads the v1alpha1 `openAPIV3Schema` out of the CRD file. */
export function loadPolicySchema(crdPath: string = defaultCrdPath()): StructuralSchema {
  return policySchemaFromCrd(readFileSync(crdPath, 'utf8'), crdPath);
}

function policySchemaFromCrd(crdText: string, crdPath: string): StructuralSchema {
  const { parse } = require('yaml') as typeof Yaml;
  const crd: unknown = parse(crdText);
  const versions = isRecord(crd) && isRecord(crd['spec']) ? crd['spec']['versions'] : undefined;
  const version = Array.isArray(versions)
    ? (versions as unknown[]).find((v) => isRecord(v) && v['name'] === VERSION)
    : undefined;
  const schema = isRecord(version) && isRecord(version['schema']) ? version['schema']['openAPIV3Schema'] : undefined;
  if (!isRecord(schema)) throw new Error(`${crdPath}: no openAPIV3Schema for version ${VERSION}`);
  return schema;
}

/**
 * Turns a structural schema into a JSON Schema that ajv enforces like the API server with strict field
 * validation (kubectl's default): objects reject unknown fields unless marked
 * `x-kubernetes-preserve-unknown-fields`, `x-kubernetes-list-type: set` becomes `uniqueItems` (structural
 * schemas may not say `uniqueItems` themselves), and the other `x-kubernetes-*` keywords are dropped.
 * CEL rules are dropped here because semantic.ts implements them.
 */
export function toAjvSchema(schema: StructuralSchema): SchemaObject {
  const out: SchemaObject = {};
  for (const [keyword, value] of Object.entries(schema)) {
    // Descriptions do not validate anything; dropped, they keep the generated validator small.
    if (keyword.startsWith('x-kubernetes-') || keyword === 'description') continue;
    if (keyword === 'properties' && isRecord(value)) {
      out['properties'] = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [name, toAjvSchema(sub as StructuralSchema)]),
      );
    } else if ((keyword === 'items' || keyword === 'additionalProperties') && isRecord(value)) {
      out[keyword] = toAjvSchema(value);
    } else {
      out[keyword] = value;
    }
  }
  if (schema['x-kubernetes-list-type'] === 'set') out['uniqueItems'] = true;
  const preserves = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (schema.type === 'object' && !preserves && schema.additionalProperties === undefined) {
    out['additionalProperties'] = false;
  }
  return out;
}

/**
 * The API server validates `metadata` as ObjectMeta, which the CRD may not describe. Offline, only the name
 * matters (a policy is identified by it); other metadata fields are accepted as they are.
 */
const METADATA_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 253 } },
};

/** The JSON Schema a whole ImmutabilityPolicy object is validated against. */
export function policyObjectSchema(schema: StructuralSchema): SchemaObject {
  const ajvSchema = toAjvSchema(schema);
  ajvSchema['properties'] = { ...(ajvSchema['properties'] as object), metadata: METADATA_SCHEMA };
  ajvSchema['required'] = ['apiVersion', 'kind', 'metadata'];
  return ajvSchema;
}

/**
 * The ajv every policy validator is compiled with, generated ahead of time or not; `code` is for generating
 * source (ajv's standalone mode).
 */
export function policyAjv(code?: CodeOptions): Ajv {
  const { Ajv } = require('ajv') as typeof AjvModule;
  // What `import addFormats from 'ajv-formats'` gives: the CommonJS module object, the plugin as its default.
  const addFormats = require('ajv-formats') as typeof AjvFormats.default;
  // useDefaults fills in the CRD defaults as the API server does on create, so callers see the stored shape.
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true, ...(code === undefined ? {} : { code }) });
  addFormats.default(ajv, ['date-time', 'int32', 'int64']);
  return ajv;
}

/** The digest a generated validator records of the CRD it was generated from. */
export function crdDigest(crdText: string): string {
  return createHash('sha256').update(crdText).digest('hex');
}

/** The generated validator, if it was generated from exactly this CRD. */
function generatedValidator(crdText: string): ValidateFunction | undefined {
  return generated.CRD_SHA256 === crdDigest(crdText) ? (generated.validate as unknown as ValidateFunction) : undefined;
}

/**
 * The API server prunes `null` from fields that are not nullable before defaulting, so `rules:` with no value
 * means "defaults" rather than "wrong type". None of this API's fields is nullable.
 */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isRecord(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, field]) => field !== null)
      .map(([key, field]) => [key, withoutNulls(field)]),
  );
}

/** Builds a validator from the CRD at `crdPath` (default: the packaged CRD). Compiles once; reuse it. */
export function createPolicyValidator(crdPath: string = defaultCrdPath()): PolicyValidator {
  const crdText = readFileSync(crdPath, 'utf8');
  const validate = generatedValidator(crdText) ?? policyAjv().compile(policyObjectSchema(policySchemaFromCrd(crdText, crdPath)));
  return (obj: unknown): PolicyValidationResult => {
    const candidate = withoutNulls(structuredClone(obj));
    const errors = identityErrors(candidate);
    if (!validate(candidate)) errors.push(...(validate.errors ?? []).map((error) => describe(error, candidate)));
    if (errors.length > 0) return { ok: false, errors: [...new Set(errors)] };
    const policy = candidate as ImmutabilityPolicy;
    const semantic = semanticErrors(policy.spec);
    return semantic.length > 0 ? { ok: false, errors: semantic } : { ok: true, policy };
  };
}

let defaultValidator: PolicyValidator | undefined;

/**
 * Validates one parsed object as an ImmutabilityPolicy against the packaged CRD. On success `policy` is a copy
 * with the CRD defaults filled in. Errors are `field.path: message`, e.g. `spec.mode: must be one of Audit, Enforce`.
 */
export function validatePolicyObject(obj: unknown): PolicyValidationResult {
  // The compiled schema is immutable and derived from a packaged file, so one per process is enough.
  defaultValidator ??= createPolicyValidator();
  return defaultValidator(obj);
}

function identityErrors(obj: unknown): string[] {
  if (!isRecord(obj)) return ['must be an object (an ImmutabilityPolicy manifest)'];
  const errors: string[] = [];
  if (obj['apiVersion'] !== API_VERSION) errors.push(`apiVersion: must be ${API_VERSION}`);
  if (obj['kind'] !== KIND) errors.push(`kind: must be ${KIND}`);
  return errors;
}

// Friendlier wording for the CRD's patterns; an unknown pattern falls back to quoting it.
const PATTERN_HINTS: Readonly<Record<string, string>> = {
  '^[a-z0-9*?]([-a-z0-9*?]*[a-z0-9*?])?$':
    "must be a name or glob of lowercase letters, digits, '-', '*' and '?', starting and ending with a letter, digit or wildcard",
  '^[A-Za-z0-9._/:@*?-]+$': "must be an image reference or glob (letters, digits, '.', '_', '/', ':', '@', '-', '*', '?')",
  '^[+]?(0*[1-9][0-9]*([.][0-9]*)?|0*[.][0-9]*[1-9][0-9]*)([KMGTPE]i|[kMGTPE]|[eE][+]?[0-9]+)?$':
    'must be a positive quantity such as 64Mi or 1Gi',
};
const DATE_TIME_MESSAGE = 'must be an RFC 3339 date-time such as 2027-01-31T00:00:00Z';

function typeName(type: unknown): string {
  switch (type) {
    case 'object':
      return 'an object';
    case 'array':
      return 'a list';
    case 'integer':
      return 'an integer';
    default:
      return `a ${String(type)}`;
  }
}

/** One ajv error as `field.path: message`, in the words kubectl users know. */
function describe(error: ErrorObject, data: unknown): string {
  const base = fieldPath(error.instancePath, data);
  const at = base === '' ? '(root)' : base;
  const params = error.params as Record<string, unknown>;
  const child = (name: unknown): string => joinField(base, String(name));
  const parent = (error.parentSchema ?? {}) as SchemaObject;
  switch (error.keyword) {
    case 'required':
      return `${child(params['missingProperty'])}: required`;
    case 'additionalProperties':
      return `${child(params['additionalProperty'])}: unknown field`;
    case 'enum':
      return `${at}: must be one of ${(params['allowedValues'] as unknown[]).map(String).join(', ')}`;
    case 'type':
      return `${at}: must be ${typeName(params['type'])}`;
    case 'minLength':
      return params['limit'] === 1 ? `${at}: must not be empty` : `${at}: must be at least ${String(params['limit'])} characters`;
    case 'maxLength':
      return `${at}: must be at most ${String(params['limit'])} characters`;
    case 'minItems':
      return `${at}: must have at least ${String(params['limit'])} items`;
    case 'maxItems':
      return `${at}: must have at most ${String(params['limit'])} items`;
    case 'maxProperties':
      return `${at}: must have at most ${String(params['limit'])} entries`;
    case 'minimum':
    case 'maximum':
      return `${at}: must be ${error.keyword === 'minimum' ? 'at least' : 'at most'} ${String(params['limit'])}`;
    case 'uniqueItems': {
      // ajv names the two equal items i and j; the later one is the duplicate.
      const index = Math.max(Number(params['i']), Number(params['j']));
      const item = Array.isArray(error.data) ? (error.data as unknown[])[index] : undefined;
      return `${at}[${index}]: duplicate value ${JSON.stringify(item)}`;
    }
    case 'format':
      return params['format'] === 'date-time' ? `${at}: ${DATE_TIME_MESSAGE}` : `${at}: must be a valid ${String(params['format'])}`;
    case 'pattern': {
      if (parent['format'] === 'date-time') return `${at}: ${DATE_TIME_MESSAGE}`;
      const pattern = String(params['pattern']);
      return `${at}: ${PATTERN_HINTS[pattern] ?? `must match ${pattern}`}`;
    }
    default:
      return `${at}: ${error.message ?? 'is invalid'}`;
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function joinField(base: string, key: string): string {
  if (!IDENTIFIER.test(key)) return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** JSON pointer `/spec/exemptions/0/reason` → `spec.exemptions[0].reason`; '' for the object itself. */
function fieldPath(pointer: string, data: unknown): string {
  let path = '';
  let current: unknown = data;
  for (const token of pointer.split('/').slice(1)) {
    const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      path = `${path}[${key}]`;
      current = (current as unknown[])[Number(key)];
    } else {
      path = joinField(path, key);
      current = isRecord(current) ? current[key] : undefined;
    }
  }
  return path;
}
