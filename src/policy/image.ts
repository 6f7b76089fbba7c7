// Container image references as exemption globs see them. Users write an image several ways ("nginx",
// "nginx:1.25", "docker.io/library/nginx:1.25@sha256:...") and expect a glob to find the image whichever way
// either side is spelled, so a reference is expanded into all its spellings and a glob matches when it
// matches any of them.

/** The parts of a reference, normalised the way the container runtime resolves it. */
export interface ImageReference {
  /** Registry host (with port); "docker.io" when the reference names none. */
  registry: string;
  /** Repository path without registry, e.g. "library/nginx". */
  path: string;
  /** Tag without ":" (absent when none is written). */
  tag?: string;
  /** Digest without "@" (absent when none is written). */
  digest?: string;
}

const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * Splits a reference following the distribution reference grammar: the first path component is a registry
 * host only when it contains "." or ":" or is "localhost"; a tag is the part after the last ":" that follows
 * the last "/"; a digest follows "@". Docker Hub names gain "docker.io/" and, for one-component names,
 * "library/".
 */
export function parseImageReference(image: string): ImageReference {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  let name = at >= 0 ? image.slice(0, at) : image;
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  const hasRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let registry = hasRegistry ? first : DOCKER_HUB;
  let path = hasRegistry ? name.slice(slash + 1) : name;
  if (DOCKER_HUB_ALIASES.has(registry)) {
    registry = DOCKER_HUB;
    if (!path.includes('/')) path = `library/${path}`;
  }
  const reference: ImageReference = { registry, path };
  if (tag !== undefined) reference.tag = tag;
  if (digest !== undefined) reference.digest = digest;
  return reference;
}

// Every spelling an image glob is matched against; a glob matches an image when it matches any of them:
// 1. the reference exactly as written in the pod;
// 2. for each repository spelling — with registry ("docker.io/library/nginx"), without registry
//    ("library/nginx") and, for official Docker Hub images, the short name ("nginx") —
// 3. that spelling bare, with the tag, with the digest, and with both as written.
// So the glob `nginx` matches "docker.io/library/nginx:1.25", and `*/library/nginx*` matches "nginx:1.25".
export function imageSpellings(image: string): string[] {
  const reference = parseImageReference(image);
  const repositories = [`${reference.registry}/${reference.path}`, reference.path];
  if (reference.registry === DOCKER_HUB && reference.path.startsWith('library/')) {
    repositories.push(reference.path.slice('library/'.length));
  }
  const tag = reference.tag === undefined ? '' : `:${reference.tag}`;
  const digest = reference.digest === undefined ? '' : `@${reference.digest}`;
  const suffixes = ['', tag, digest, tag + digest];
  const spellings = new Set<string>([image]);
  for (const repository of repositories) {
    for (const suffix of suffixes) spellings.add(repository + suffix);
  }
  return [...spellings];
}
