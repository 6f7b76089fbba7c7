// Bounds "no hot loop" with numbers: the CPU time a process used (from /proc, user + system) and how much it
// logged, over a window. A stuck retry loop shows up as CPU seconds per wall second and log bytes per second.
import { readFileSync, statSync } from 'node:fs';

/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on every architecture we run on. */
const CLOCK_TICKS_PER_SECOND = 100;

export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

export interface Usage {
  /** Wall-clock seconds of the window. */
  seconds: number;
  cpuSeconds: number;
  /** CPU seconds per wall-clock second: 1 is a whole core busy. */
  cpuShare: number;
  logBytes: number;
  logLines: number;
}

/** Starts a window over a process and its log file; call the result to close it. */
export function sampleUsage(pid: number, logFile: string): () => Usage {
  const started = Date.now();
  const cpu0 = cpuSeconds(pid);
  const log0 = logSize(logFile);
  return () => {
    const seconds = (Date.now() - started) / 1000;
    const cpu = cpuSeconds(pid) - cpu0;
    const log = logSize(logFile);
    return { seconds, cpuSeconds: cpu, cpuShare: cpu / Math.max(seconds, 0.001), logBytes: log.bytes - log0.bytes, logLines: log.lines - log0.lines };
  };
}

function logSize(file: string): { bytes: number; lines: number } {
  try {
    const bytes = statSync(file).size;
    const text = readFileSync(file, 'utf8');
    let lines = 0;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lines++;
    return { bytes, lines };
  } catch {
    return { bytes: 0, lines: 0 };
  }
}
