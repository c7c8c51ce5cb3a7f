// Time ranges: relative ("now-1h") or absolute (ISO 8601), resolved at
// query time, shown in the browser's time zone.

export const presets: [string, string][] = [
  ['Last 5 minutes', 'now-5m'],
  ['Last 15 minutes', 'now-15m'],
  ['Last 1 hour', 'now-1h'],
  ['Last 6 hours', 'now-6h'],
  ['Last 24 hours', 'now-24h'],
  ['Last 2 days', 'now-2d'],
  ['Last 7 days', 'now-7d'],
]

const units: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }

// resolve returns the time s means, in ms since the epoch, or NaN.
export function resolve(s: string, now: number): number {
  s = s.trim()
  if (s === 'now') return now
  const rel = /^now-(\d+)([smhdw])$/.exec(s)
  if (rel) return now - Number(rel[1]) * units[rel[2]]
  if (/^\d+$/.test(s)) return Number(s)
  return Date.parse(s)
}

export function isRelative(s: string): boolean {
  return s.startsWith('now')
}

export const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'

export function zoneLabel(at = new Date()): string {
  const off = -at.getTimezoneOffset()
  const sign = off >= 0 ? '+' : '-'
  const a = Math.abs(off)
  return `${timeZone} (UTC${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')})`
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

// formatTime shows ms in the local zone: 2026-12-08 01:02:03.456.
export function formatTime(ms: number, withMillis = true): string {
  const d = new Date(ms)
  const s = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  return withMillis ? s + '.' + pad(d.getMilliseconds(), 3) : s
}

// toLocalInput and fromLocalInput convert for <input type="datetime-local">.
export function toLocalInput(ms: number): string {
  const d = new Date(ms)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

export function fromLocalInput(v: string): number {
  return new Date(v).getTime() // no zone in v: local time
}

export function nsString(ms: number): string {
  return (BigInt(Math.floor(ms)) * 1000000n).toString()
}
