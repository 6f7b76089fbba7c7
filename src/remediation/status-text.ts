// The CRD caps `violations[].message` at 1024 and `violations[].patch` at 8192 characters; a status write
// with a longer value would be rejected whole. Pure.

export const MAX_MESSAGE_CHARS = 1024;
export const MAX_PATCH_CHARS = 8192;

/** Cuts `text` to at most `max` characters (not splitting a surrogate pair) and says that it did. */
export function truncateText(text: string, max: number, marker = ' …[truncated]'): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - marker.length);
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--; // a high surrogate without its pair
  return text.slice(0, end) + marker;
}

/** "a, b, c and 4 more" */
export function listSome(items: readonly string[], max = 5): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
