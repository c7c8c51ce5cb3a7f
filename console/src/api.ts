// The Loki HTTP API of the kmlog serving this page.

const tokenKey = 'kmlog.console.token'

// The bearer token lives in sessionStorage: it is sent only to this origin
// and is forgotten when the tab is closed.
export function getToken(): string {
  try {
    return sessionStorage.getItem(tokenKey) ?? ''
  } catch {
    return ''
  }
}

export function setToken(tok: string): void {
  if (tok.trim() === '') sessionStorage.removeItem(tokenKey)
  else sessionStorage.setItem(tokenKey, tok.trim())
}

// tailProtocols carries the token on a WebSocket, where a browser cannot
// set Authorization: the gateway takes it from the second subprotocol,
// verifies it like the header, and answers with the first.
export function tailProtocols(tok: string): string[] {
  if (tok === '') return []
  let bin = ''
  for (const b of new TextEncoder().encode(tok)) bin += String.fromCharCode(b)
  const b64url = btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  return ['kmlog.bearer', 'kmlog.bearer.' + b64url]
}

export class ApiError extends Error {
  status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

// describe turns a failed answer into words for people.
export function describe(status: number, body: string): string {
  const text = body.trim() || `HTTP ${status}`
  switch (true) {
    case status === 0:
      return `Cannot reach kmlog: ${text}`
    case status === 400:
      return text
    case status === 401:
      return `Not signed in, or the token was rejected: ${text}`
    case status === 403:
      return `Not allowed: ${text}`
    case status === 404:
      return `Not found (is the query API served here?): ${text}`
    case status === 429:
      return `Too many requests, try again shortly: ${text}`
    case status === 499:
      return 'The query was cancelled.'
    case status === 504:
      return `The query timed out: ${text}`
    default:
      return `kmlog failed (HTTP ${status}): ${text}`
  }
}

export function headers(): Record<string, string> {
  const h: Record<string, string> = { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' }
  const tok = getToken()
  if (tok) h.Authorization = 'Bearer ' + tok
  return h
}

// get calls a Loki API path and returns its "data".
export async function get<T>(path: string, params: Record<string, string>, signal?: AbortSignal): Promise<T> {
  const url = path + '?' + new URLSearchParams(params).toString()
  let res: Response
  try {
    res = await fetch(url, { headers: headers(), signal })
  } catch (e) {
    if (signal?.aborted) throw e
    throw new ApiError(0, describe(0, String((e as Error).message ?? e)))
  }
  const text = await res.text()
  if (!res.ok) throw new ApiError(res.status, describe(res.status, text))
  let body: { status?: string; data?: T; error?: string }
  try {
    body = JSON.parse(text)
  } catch {
    throw new ApiError(res.status, 'kmlog answered with something that is not JSON: ' + text.slice(0, 200))
  }
  if (body.status && body.status !== 'success') throw new ApiError(res.status, body.error ?? 'the query failed')
  return body.data as T
}

export interface ClientConfig {
  traceField: string
  traceURL: string
  authEnabled: boolean
}

export async function loadConfig(): Promise<ClientConfig> {
  const def: ClientConfig = { traceField: 'trace_id', traceURL: '', authEnabled: false }
  try {
    const res = await fetch('/console/config.json')
    if (!res.ok) return def
    return { ...def, ...(await res.json()) }
  } catch {
    return def
  }
}

// Loki's shapes.
export type Labels = Record<string, string>
export interface StreamResult {
  stream: Labels
  values: [string, string, { structuredMetadata?: Labels; parsed?: Labels }?][]
}
export interface MatrixResult {
  metric: Labels
  values: [number, string][]
}
export interface QueryData {
  resultType: 'streams' | 'matrix' | 'vector' | 'scalar'
  result: StreamResult[] | MatrixResult[]
  encodingFlags?: string[]
}

// Entry is one log line as the console keeps it.
export interface Entry {
  id: number
  ns: string // nanoseconds, zero-padded to 20 digits so strings sort
  ms: number
  line: string
  labels: Labels
  meta?: Labels
  parsed?: Labels
  level: string
  stream: string
  trace?: string | null
}

let nextID = 1

export function streamKey(ls: Labels): string {
  return Object.keys(ls)
    .sort()
    .map((k) => k + '=' + ls[k])
    .join(',')
}

export function toEntries(streams: StreamResult[]): Entry[] {
  const out: Entry[] = []
  for (const s of streams) {
    const sk = streamKey(s.stream)
    for (const v of s.values) {
      const meta = v[2]?.structuredMetadata
      const parsed = v[2]?.parsed
      const ns = v[0].padStart(20, '0')
      out.push({
        id: nextID++,
        ns,
        ms: Number(v[0].slice(0, -6) || '0'),
        line: v[1],
        labels: s.stream,
        meta,
        parsed,
        level: s.stream.level ?? meta?.level ?? parsed?.level ?? s.stream.detected_level ?? '',
        stream: sk,
      })
    }
  }
  return out
}

export function sortEntries(es: Entry[], backward: boolean): Entry[] {
  return es.sort((a, b) => (a.ns === b.ns ? a.id - b.id : (a.ns < b.ns) !== backward ? -1 : 1))
}

export function entryKey(e: Entry): string {
  return e.ns + '\u0000' + e.stream + '\u0000' + e.line
}
