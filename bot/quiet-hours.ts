/**
 * Quiet hours (DESIGN §6): `/quiet 22:00-07:00 [tz=Europe/Berlin]` parsed, and the pure time
 * arithmetic behind "is this person quiet now, and until when", in their own time zone via Intl
 * (DST included). Untrusted: the command text (a person's, bounded and matched strictly; a time
 * zone must be one Intl knows) and a platform's reported time zone (validated the same way).
 */

/** A person's quiet hours: minutes after local midnight; `start > end` spans midnight. */
export interface QuietHours {
  readonly start: number;
  readonly end: number;
  /** IANA time zone, e.g. "Europe/Berlin"; "UTC" when neither the person nor the platform said. */
  readonly tz: string;
}

export type QuietCommand =
  | { readonly kind: "show" }
  | { readonly kind: "off" }
  | { readonly kind: "set"; readonly start: number; readonly end: number; readonly tz?: string }
  | { readonly kind: "invalid"; readonly message: string };

const DAY_MIN = 24 * 60;
const TIME_RE = /^([01]?\d|2[0-3]):([0-5]\d)$/;
const TZ_RE = /^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/;

/** Parses the arguments of `/quiet` (everything after the command). */
export function parseQuiet(args: string): QuietCommand {
  const words = args.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return { kind: "show" };
  if (words.length === 1 && words[0]?.toLowerCase() === "off") return { kind: "off" };
  const [range, tzWord, ...rest] = words;
  const [from, to, ...more] = (range ?? "").split("-");
  const start = from === undefined ? undefined : parseTime(from);
  const end = to === undefined ? undefined : parseTime(to);
  if (more.length > 0 || rest.length > 0 || start === undefined || end === undefined)
    return { kind: "invalid", message: "Write the hours like 22:00-07:00, optionally tz=Europe/Berlin." };
  if (start === end)
    return { kind: "invalid", message: "Quiet hours must start and end at different times." };
  if (tzWord === undefined) return { kind: "set", start, end };
  const tz = tzWord.toLowerCase().startsWith("tz=") ? validTimeZone(tzWord.slice(3)) : undefined;
  if (tz === undefined)
    return { kind: "invalid", message: "Name the time zone like tz=Europe/Berlin (an IANA time zone)." };
  return { kind: "set", start, end, tz };
}

/** The canonical name of a time zone Intl knows, else undefined. */
export function validTimeZone(name: string): string | undefined {
  if (!TZ_RE.test(name)) return undefined;
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** "HH:MM" → minutes after midnight. */
export function parseTime(text: string): number | undefined {
  const m = TIME_RE.exec(text);
  return m?.[1] && m[2] ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

/** Minutes after midnight → "07:00". */
export function formatTime(minutes: number): string {
  const m = ((minutes % DAY_MIN) + DAY_MIN) % DAY_MIN;
  return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
}

/** "22:00-07:00 (Europe/Berlin)". */
export function describeQuiet(q: QuietHours): string {
  return `${formatTime(q.start)}-${formatTime(q.end)} (${q.tz})`;
}

/** True when `now` (epoch ms) falls in the quiet hours, read on the person's local clock. */
export function isQuiet(now: number, q: QuietHours): boolean {
  const m = localMinutes(now, q.tz);
  return q.start < q.end ? m >= q.start && m < q.end : m >= q.start || m < q.end;
}

/**
 * The next instant (epoch ms, on a whole minute) at or after `now` when the local clock reads
 * `end`. Across a DST change the wall-clock distance is corrected by the change in offset; an end
 * time that a spring-forward skips is reached an hour late, never early.
 */
export function quietEndsAt(now: number, q: QuietHours): number {
  const minuteStart = now - (now % 60_000);
  let ahead = (q.end - localMinutes(now, q.tz) + DAY_MIN) % DAY_MIN;
  if (ahead === 0 && minuteStart < now) ahead = DAY_MIN;
  const guess = minuteStart + ahead * 60_000;
  const corrected = guess + (offsetMs(minuteStart, q.tz) - offsetMs(guess, q.tz));
  return corrected >= now ? corrected : guess;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function parts(at: number, tz: string): Record<string, number> {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(tz, f);
  }
  const out: Record<string, number> = {};
  for (const p of f.formatToParts(at)) if (p.type !== "literal") out[p.type] = Number(p.value);
  return out;
}

function localMinutes(at: number, tz: string): number {
  const p = parts(at, tz);
  return (p.hour ?? 0) * 60 + (p.minute ?? 0);
}

/** Local wall time minus UTC at `at`, in ms (+1 h for Berlin in winter). */
function offsetMs(at: number, tz: string): number {
  const p = parts(at, tz);
  const wall = Date.UTC(
    p.year ?? 1970,
    (p.month ?? 1) - 1,
    p.day ?? 1,
    p.hour ?? 0,
    p.minute ?? 0,
    p.second ?? 0,
  );
  return wall - (at - (at % 1000));
}
