// Strict RFC 3339 timestamps. `Date.parse` accepts many other shapes ("2027-01-31", "Jan 31 2027") and rolls
// impossible dates over (Feb 30 becomes Mar 2), which would silently move an exemption's expiry.

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

// Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
function utc(year: number, monthIndex: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, day);
  date.setUTCHours(hour, minute, second, ms);
  return date;
}

function daysInMonth(year: number, month: number): number {
  return utc(year, month, 0).getUTCDate();
}

/** Milliseconds since the epoch, or undefined when `value` is not a valid RFC 3339 date-time. */
export function parseRfc3339(value: string): number | undefined {
  const parts = RFC3339.exec(value);
  if (parts === null) return undefined;
  const [year, month, day, hour, minute, second] = parts.slice(1, 7).map(Number) as [
    number, number, number, number, number, number,
  ];
  const fraction = parts[7] ?? '';
  const zulu = parts[8] !== undefined;
  const offsetHours = Number(parts[10] ?? 0);
  const offsetMinutes = Number(parts[11] ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // Leap seconds (60) are not representable in a JavaScript Date; such timestamps are rejected.
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return undefined;
  const millis = fraction === '' ? 0 : Math.floor(Number(`0${fraction}`) * 1000);
  const local = utc(year, month - 1, day, hour, minute, second, millis).getTime();
  if (zulu) return local;
  const sign = parts[9] === '-' ? -1 : 1;
  return local - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
}
