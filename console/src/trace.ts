import type { Entry } from './api'

// traceOf finds the trace id of e: a stream label, structured metadata,
// a parsed label, a JSON field or a logfmt-style key=value in the line.
// The answer is memoised on the entry.
export function traceOf(e: Entry, field: string): string | null {
  if (e.trace !== undefined) return e.trace
  let t: string | null = e.labels[field] ?? e.meta?.[field] ?? e.parsed?.[field] ?? null
  if (t === null && field !== '' && e.line.includes(field)) {
    const s = e.line.trimStart()
    if (s.startsWith('{')) {
      try {
        const v = JSON.parse(s)[field]
        if (typeof v === 'string' || typeof v === 'number') t = String(v)
      } catch {
        /* not JSON after all */
      }
    }
    if (t === null) {
      const re = new RegExp(`(?:^|[\\s,{"])${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?\\s*[=:]\\s*"?([A-Za-z0-9_-]{4,})`)
      const m = re.exec(e.line)
      if (m) t = m[1]
    }
  }
  e.trace = t
  return t
}

export function traceLink(template: string, id: string): string {
  return template.replaceAll('{trace_id}', encodeURIComponent(id))
}

// pretty returns the line pretty-printed when it is JSON, or null.
export function pretty(line: string): string | null {
  const s = line.trim()
  if (!s.startsWith('{') && !s.startsWith('[')) return null
  try {
    return JSON.stringify(JSON.parse(s), null, 2)
  } catch {
    return null
  }
}
