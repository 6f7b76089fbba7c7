// Reads Kubernetes manifests for offline commands: files, directories (recursively) and stdin, each holding
// multi-document YAML or JSON, with `kind: List` (and `*List`) expanded into its items. Every document keeps
// a source label (`path#index`, 1-based) so a message can point at the exact document.
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Document, DocumentOptions, LineCounter, ParseOptions, SchemaOptions, ToJSOptions } from 'yaml';
import type * as Yaml from 'yaml';
import { isRecord } from '../runtime/json.js';
import { readYamlFast } from './yaml-fast.js';

export const STDIN = '-';
const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface SourceDocument {
  /** e.g. `manifests/app.yaml#2`, or `list.yaml#1 items[3]` for an item of a List. */
  source: string;
  object: unknown;
  /** The file the document was read from, as given on the command line; undefined for stdin. */
  file?: string;
  /** 1-based line in `file` (or stdin) where the node at `path` inside `object` starts, if it exists. */
  lineOf: (path: readonly (string | number)[]) => number | undefined;
}

export interface ReadResult {
  documents: SourceDocument[];
  /** `source: message` for every path, file or document that could not be read or parsed. */
  errors: string[];
}

/**
 * kubectl reads YAML 1.1 (yes/no/on/off are booleans, 0644 is octal), but keeps timestamps as strings and has
 * no sexagesimal numbers, so those YAML 1.1 tags are left out: `expires: 2027-01-31T00:00:00Z` stays a string.
 */
const UNSUPPORTED_TAGS = new Set(['tag:yaml.org,2002:timestamp']);
export const YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  customTags: (tags) =>
    tags.filter((tag) => {
      if (typeof tag !== 'object') return true;
      return !UNSUPPORTED_TAGS.has(tag.tag) && tag.format !== 'TIME';
    }),
};
/** Bounds alias expansion so a hostile file ("billion laughs") cannot exhaust memory. */
const TO_JS_OPTIONS: ToJSOptions = { maxAliasCount: 100 };


/**
 * `yaml`, loaded when first needed: most runs never need it (yaml-fast.ts reads their input), and loading it
 * is a noticeable part of what one `check` on one file costs. Synchronous, as parsing is.
 */
let yamlModule: typeof Yaml | undefined;
function yaml(): typeof Yaml {
  yamlModule ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return yamlModule;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Parses one text into its documents; empty documents (a trailing `---`, comments only) are dropped. `file`
 * is the path the text was read from (undefined for stdin), kept so that results can point at a line.
 */
export function parseManifests(text: string, name: string, file?: string): ReadResult {
  const objects = readYamlFast(text);
  if (objects === undefined) return parseWithYaml(text, name, file);
  // Lines matter only where a result points at one (SARIF): `yaml` locates them, once per text, when asked.
  let locators: ((index: number) => LineLocator) | undefined;
  const locatorOf = (index: number): LineLocator => (path) => {
    locators ??= yamlLocators(text);
    return locators(index)(path);
  };
  const documents: SourceDocument[] = [];
  objects.forEach((object, index) => {
    if (object === null || object === undefined) return;
    documents.push(...expandLists(object, `${name}#${index + 1}`, [], locatorOf(index), file));
  });
  return { documents, errors: [] };
}

/** The reference reading, with `yaml`: documents, errors worded with their line and column, and lines. */
function parseWithYaml(text: string, name: string, file: string | undefined): ReadResult {
  const documents: SourceDocument[] = [];
  const errors: string[] = [];
  const lineCounter = new (yaml().LineCounter)();
  yaml().parseAllDocuments(text, { ...YAML_OPTIONS, lineCounter }).forEach((document, index) => {
    const source = `${name}#${index + 1}`;
    const firstError = document.errors[0];
    if (firstError !== undefined) {
      // The parser's message is "<problem> at line L, column C:" followed by a code excerpt; keep the first line.
      errors.push(`${source}: ${firstLine(firstError.message)}`);
      return;
    }
    let object: unknown;
    try {
      object = document.toJS(TO_JS_OPTIONS);
    } catch (error) {
      errors.push(`${source}: ${errorMessage(error)}`);
      return;
    }
    if (object === null || object === undefined) return;
    documents.push(...expandLists(object, source, [], lineLocator(document, lineCounter), file));
  });
  return { documents, errors };
}

/** Line locators for the documents of a text the fast path read (so `yaml` accepts it too). */
function yamlLocators(text: string): (index: number) => LineLocator {
  const lineCounter = new (yaml().LineCounter)();
  const documents = yaml().parseAllDocuments(text, { ...YAML_OPTIONS, lineCounter });
  return (index) => {
    const document = documents[index];
    return document === undefined ? () => undefined : lineLocator(document, lineCounter);
  };
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/:$/, '');
}

type LineLocator = (path: readonly (string | number)[]) => number | undefined;

function lineLocator(document: Document.Parsed, lineCounter: LineCounter): LineLocator {
  return (path) => {
    const node: unknown = document.getIn(path, true);
    return yaml().isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : undefined;
  };
}

/** `kind: List` (what `kubectl get -o yaml` prints) and typed lists such as `PodList` hold their objects in items. */
function expandLists(object: unknown, source: string, prefix: readonly (string | number)[], locate: LineLocator, file: string | undefined): SourceDocument[] {
  const document: SourceDocument = { source, object, lineOf: (path) => locate([...prefix, ...path]) };
  if (file !== undefined) document.file = file;
  if (!isRecord(object) || typeof object['kind'] !== 'string' || !object['kind'].endsWith('List')) return [document];
  const items = object['items'];
  if (!Array.isArray(items)) return [document];
  return (items as unknown[]).flatMap((item, index) =>
    expandLists(item, `${source} items[${index}]`, [...prefix, 'items', index], locate, file));
}

/**
 * Files under a directory, recursively, with a manifest extension, in a stable (byte-wise sorted) order.
 * Symbolic links to files are read; links to directories are not followed, so a link cycle cannot loop.
 */
async function manifestFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      files.push(...(await manifestFiles(path)));
      continue;
    }
    if (!MANIFEST_EXTENSIONS.some((extension) => entry.name.endsWith(extension))) continue;
    if (entry.isFile() || (entry.isSymbolicLink() && (await stat(path)).isFile())) files.push(path);
  }
  return files;
}

/**
 * Reads every path: `-` is stdin, a directory contributes its manifest files (recursively), a file is read
 * whatever its extension. Stdin may be named only once across all calls that share `stdinUse`.
 */
export async function readManifests(
  paths: readonly string[],
  readStdin: () => Promise<string>,
  stdinUse: { used: boolean } = { used: false },
): Promise<ReadResult> {
  const result: ReadResult = { documents: [], errors: [] };
  const add = (part: ReadResult): void => {
    result.documents.push(...part.documents);
    result.errors.push(...part.errors);
  };
  for (const path of paths) {
    if (path === STDIN) {
      if (stdinUse.used) {
        result.errors.push(`${STDIN}: standard input can be read only once`);
        continue;
      }
      stdinUse.used = true;
      add(parseManifests(await readStdin(), '<stdin>'));
      continue;
    }
    let files: string[];
    try {
      const info = await stat(path);
      files = info.isDirectory() ? await manifestFiles(path) : [path];
    } catch (error) {
      result.errors.push(`${path}: ${describeFsError(error)}`);
      continue;
    }
    for (const file of files) {
      try {
        add(parseManifests(await readFile(file, 'utf8'), file, file));
      } catch (error) {
        result.errors.push(`${file}: ${describeFsError(error)}`);
      }
    }
  }
  return result;
}

/** "no such file or directory" rather than "ENOENT: no such file or directory, stat 'x'". */
function describeFsError(error: unknown): string {
  if (isRecord(error) && error['code'] === 'ENOENT') return 'no such file or directory';
  if (isRecord(error) && error['code'] === 'EACCES') return 'permission denied';
  return errorMessage(error);
}
