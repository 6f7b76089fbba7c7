// Reading Prometheus text exposition (the API server's and the operator's /metrics) into numbers a scenario
// can compare before and after a fault.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, '$1');
    samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return samples;
}

/** Sum of every sample of `name` whose labels include `match` (a value may be a RegExp). */
export function sumOf(samples: Sample[], name: string, match: Record<string, string | RegExp> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, want]) => {
      const got = s.labels[k] ?? '';
      return typeof want === 'string' ? got === want : want.test(got);
    }))
    .reduce((total, s) => total + s.value, 0);
}
