// Building LogQL from the query builder and reading it back for the view.

export type Op = '=' | '!=' | '=~' | '!~'
export interface Matcher {
  name: string
  op: Op
  value: string
}

// quote writes s as a LogQL double-quoted string.
export function quote(s: string): string {
  return JSON.stringify(s)
}

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

export function buildQuery(matchers: Matcher[], levels: string[], keyword: string, fallbackLabel: string): string {
  // A label picked but not yet given a value selects nothing yet.
  const parts = matchers.filter((m) => m.name !== '' && m.value !== '').map((m) => `${m.name}${m.op}${quote(m.value)}`)
  if (levels.length === 1) parts.push(`level=${quote(levels[0])}`)
  else if (levels.length > 1) parts.push(`level=~${quote(levels.map(escapeRegex).join('|'))}`)
  if (parts.length === 0) parts.push(`${fallbackLabel || 'job'}=~".+"`)
  let q = `{${parts.join(', ')}}`
  const kw = keyword.trim()
  if (kw !== '') q += ` |= ${quote(kw)}`
  return q
}

// isLogQuery: a log query starts with its stream selector; anything else
// (a function, an aggregation, a parenthesis, a number) is a metric query.
export function isLogQuery(q: string): boolean {
  return q.replace(/#[^\n]*/g, '').trim().startsWith('{')
}

function unquote(lit: string): string | null {
  if (lit.startsWith('`')) return lit.slice(1, -1)
  try {
    return JSON.parse(lit)
  } catch {
    return null
  }
}

// highlighters finds the line filters of q (|= "x", |~ "re") and returns
// one regular expression matching any of them, or null.
export function highlighter(q: string): RegExp | null {
  const re = /\|([=~])\s*("(?:[^"\\]|\\.)*"|`[^`]*`)/g
  const alts: string[] = []
  for (const m of q.matchAll(re)) {
    const v = unquote(m[2])
    if (v === null || v === '') continue
    if (m[1] === '=') alts.push(escapeRegex(v))
    else {
      try {
        new RegExp(v)
        alts.push(v)
      } catch {
        /* an RE2-only pattern: no highlight */
      }
    }
  }
  if (alts.length === 0) return null
  try {
    return new RegExp(alts.map((a) => `(?:${a})`).join('|'), 'g')
  } catch {
    return null
  }
}

export interface Segment {
  text: string
  hit: boolean
}

export function segments(line: string, re: RegExp | null): Segment[] {
  if (!re) return [{ text: line, hit: false }]
  const out: Segment[] = []
  let last = 0
  re.lastIndex = 0
  for (let m = re.exec(line); m; m = re.exec(line)) {
    if (m[0] === '') {
      re.lastIndex++
      continue
    }
    if (m.index > last) out.push({ text: line.slice(last, m.index), hit: false })
    out.push({ text: m[0], hit: true })
    last = m.index + m[0].length
  }
  if (last < line.length) out.push({ text: line.slice(last), hit: false })
  return out
}

// errorPosition reads "line L, col C" from an API error.
export function errorPosition(msg: string): { line: number; col: number } | null {
  const m = /line (\d+), col (\d+)/.exec(msg)
  return m ? { line: Number(m[1]), col: Number(m[2]) } : null
}

// niceStep picks a step giving about `points` buckets over ms.
export function niceStep(ms: number, points: number): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map(
    (s) => s * 1000,
  )
  const want = ms / points
  return steps.find((s) => s >= want) ?? steps[steps.length - 1]
}

export function durationString(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s % 86400 === 0) return `${s / 86400}d`
  if (s % 3600 === 0) return `${s / 3600}h`
  if (s % 60 === 0) return `${s / 60}m`
  return `${s}s`
}
