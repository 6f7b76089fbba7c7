// Names of the emptyDir volumes the owner patch adds for writable paths. A name must be a DNS-1123 label
// (≤63 characters of [a-z0-9-]) and the same path must always get the same name, so that planning again over
// a patched template finds the volume it added and plans nothing.

const PREFIX = 'immutability-tmp-';
const MAX_NAME_LENGTH = 63;

/** FNV-1a, 32 bit: a stable short fingerprint, not a security measure. */
function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

function slug(path: string): string {
  const text = path.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return text === '' ? 'root' : text;
}

/** "/var/cache/nginx/" and "/var//cache/nginx" are the mount path "/var/cache/nginx". */
export function normalizeMountPath(path: string): string {
  const collapsed = path.replace(/\/+/g, '/');
  return collapsed.length > 1 ? collapsed.replace(/\/$/, '') : collapsed;
}

/** "/var/cache/nginx" → "immutability-tmp-var-cache-nginx"; long paths are cut and get a fingerprint. */
export function readableVolumeName(path: string): string {
  const name = PREFIX + slug(path);
  return name.length <= MAX_NAME_LENGTH ? name : fingerprintedVolumeName(path);
}

/** A name that differs for every path, used when the readable name is too long or already taken. */
export function fingerprintedVolumeName(path: string): string {
  const suffix = `-${fingerprint(path)}`;
  const room = MAX_NAME_LENGTH - PREFIX.length - suffix.length;
  return PREFIX + slug(path).slice(0, room).replace(/-+$/, '') + suffix;
}
