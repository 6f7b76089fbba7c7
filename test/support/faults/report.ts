// Each fault scenario prints one line with what it measured, so a CI log shows the figures that
// docs/reliability.md quotes, with the machine's 1/5/15-minute load average when they were taken (the box is
// shared; a figure means little without it). The lines also go to $FAULTS_REPORT (JSON lines) when set.
import { appendFileSync } from 'node:fs';
import { loadAverage } from '../../../bench/lib/stats.js';

export type Figures = Record<string, string | number | boolean>;

export function report(scenario: number, measured: Figures): void {
  const figures: Figures = { ...measured, load: loadAverage().join('/') };
  const text = Object.entries(figures).map(([k, v]) => `${k}=${typeof v === 'number' ? round(v) : v}`).join(' ');
  process.stdout.write(`      [fault ${scenario}] ${text}\n`);
  const file = process.env['FAULTS_REPORT'];
  if (file) appendFileSync(file, `${JSON.stringify({ scenario, ...figures, at: new Date().toISOString() })}\n`);
}

function round(n: number): number {
  return Number.isInteger(n) ? n : Math.round(n * 100) / 100;
}
