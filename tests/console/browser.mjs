// Browser checks of the kmlog console, run by console_test.go (TestBrowser)
// with a kmlog at $KMLOG_URL holding the data console_test.go pushed.
// Prints progress lines, then one "RESULT {json}" line with measurements;
// exits non-zero on the first failed check.
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'

const env = (k) => {
  const v = process.env[k]
  if (!v) throw new Error(`${k} is not set`)
  return v
}
const base = env('KMLOG_URL')
const jaeger = process.env.JAEGER_URL ?? ''
const artifacts = env('ARTIFACTS')
const failedLines = Number(env('FAILED_LINES'))
const bulkLines = Number(env('BULK_LINES'))
const require = createRequire(join(env('CONSOLE_DIR'), 'package.json'))
const { chromium } = require('playwright-core')

const results = {}
function check(cond, msg) {
  if (!cond) throw new Error('check failed: ' + msg)
}
const log = (...a) => console.log(...a)
const shot = (page, name) => page.screenshot({ path: join(artifacts, name + '.png') })
const rowsText = (page) => page.$$eval('.log-row .line', (els) => els.map((e) => e.textContent))

const profile = mkdtempSync(join(tmpdir(), 'kmlog-chromium-'))
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: env('CHROMIUM'),
  headless: true,
  viewport: { width: 1400, height: 900 },
  // Not the machine's zone: times must be shown, and ranges read, in it.
  timezoneId: 'Asia/Shanghai',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
const pageErrors = []
const page = ctx.pages()[0] ?? (await ctx.newPage())
try {
  page.setDefaultTimeout(60000) // generous: CI machines are small and busy
  page.on('pageerror', (e) => pageErrors.push(e.message))
  if (process.env.MODE === 'auth') await authChecks(page)
  else await mainChecks(page)
  check(pageErrors.length === 0, 'no page errors: ' + pageErrors.join('; '))
  results.load_average_1m = loadavg()[0].toFixed(1)
  console.log('RESULT ' + JSON.stringify(results))
} catch (e) {
  // What the page showed when a check failed.
  await shot(page, 'failure').catch(() => {})
  const said = await page.evaluate(() => ['error', 'info', 'tail-status'].map((k) => k + ': ' + (document.querySelector(`[data-testid=${k}]`)?.textContent ?? '-')).join('\n')).catch(() => '')
  console.error(`page at ${page.url()}\n${said}\npage errors: ${pageErrors.join('; ')}`)
  throw e
} finally {
  await ctx.close()
  rmSync(profile, { recursive: true, force: true })
}

// The main walk through the console (auth off, tenant fake).
async function mainChecks(page) {

  // 1. Pick labels, a level and a keyword; check the LogQL and the lines.
  log('builder')
  await page.goto(base + '/')
  await page.waitForFunction(() =>
    [...document.querySelectorAll('[data-testid=add-label] option')].some((o) => o.value === 'namespace'))
  await page.selectOption('[data-testid=add-label]', 'namespace')
  await page.waitForFunction(() =>
    [...document.querySelectorAll('[data-testid=value-namespace] option')].some((o) => o.value === 'prod'))
  await page.selectOption('[data-testid=value-namespace]', 'prod')
  // Values of a second label are those of the streams already picked.
  await page.selectOption('[data-testid=add-label]', 'app')
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=value-app] option').length > 1)
  const apps = await page.$$eval('[data-testid=value-app] option', (os) => os.map((o) => o.value).filter((v) => v))
  check(apps.join() === 'payments,trading-service', 'apps of namespace prod: ' + apps)
  check((await page.inputValue('[data-testid=logql]')) === '{namespace="prod"}', 'a label without a value is left out')
  await page.click('[data-testid=matcher-app] .x')
  await page.waitForSelector('[data-testid=level-error]')
  await page.click('[data-testid=level-error]')
  await page.fill('[data-testid=keyword]', 'transaction failed')
  const logql = await page.inputValue('[data-testid=logql]')
  check(logql === '{namespace="prod", level="error"} |= "transaction failed"', 'generated LogQL: ' + logql)
  let t0 = Date.now()
  await page.click('[data-testid=run]')
  await page.waitForSelector('.log-row')
  results.small_time_to_first_line_ms = Date.now() - t0
  await page.waitForFunction((n) => document.querySelector('[data-testid=info]')?.textContent?.startsWith(`${n} lines`), failedLines)
  const lines = await rowsText(page)
  // Only the rows in view are rendered (virtual list).
  check(lines.length >= 20 && lines.length <= failedLines, `${lines.length} rows rendered of ${failedLines}`)
  check(lines.every((l) => l.includes('transaction failed')), 'every line matches the keyword')
  const marks = await page.$$eval('.log-row mark', (els) => els.map((e) => e.textContent))
  check(marks.length === lines.length && marks.every((m) => m === 'transaction failed'), 'keyword highlighted: ' + marks.slice(0, 3))
  const times = await page.$$eval('.log-row .ts', (els) => els.map((e) => e.textContent))
  check(times.every((x, i) => i === 0 || times[i - 1] >= x), 'newest first')
  check(new URL(page.url()).searchParams.get('query') === logql, 'URL holds the query: ' + page.url())
  check(new URL(page.url()).searchParams.get('from') === 'now-1h', 'URL holds the range')
  check((await page.textContent('[data-testid=zone]')) === 'Asia/Shanghai (UTC+08:00)', 'time zone shown: ' + (await page.textContent('[data-testid=zone]')))

  await shot(page, '1-builder')

  // Expand a line: labels, structured metadata, pretty JSON.
  await page.click('.log-row >> nth=0')
  const detail = await page.textContent('[data-testid=log-detail]')
  check(detail.includes('Stream labels') && detail.includes('trading-service'), 'detail shows labels')
  check(detail.includes('Structured metadata') && /user\s*u\d+/.test(detail), 'detail shows structured metadata')
  check(detail.includes('\n  "trace_id": "'), 'detail pretty-prints JSON')
  // The line's time is shown in the browser's zone.
  const cells = Object.fromEntries(await page.$$eval('[data-testid=log-detail] tr', (trs) =>
    trs.filter((tr) => tr.children.length === 2).map((tr) => [tr.children[0].textContent, tr.children[1].textContent])))
  const ms = Number(BigInt(cells.ns) / 1000000n)
  const want = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
    .format(new Date(ms)) + '.' + String(ms % 1000).padStart(3, '0')
  check(cells.local === want, `line time ${cells.local}, want ${want} (Asia/Shanghai)`)
  check(times[0] === want, `row time ${times[0]}, want ${want}`)
  await shot(page, '2-expanded')

  // The URL is shareable: a reload shows the same query and lines.
  await page.reload()
  await page.waitForFunction((n) => document.querySelector('[data-testid=info]')?.textContent?.startsWith(`${n} lines`), failedLines)
  check((await page.inputValue('[data-testid=logql]')) === logql, 'reload keeps the query')

  // 2. A trace_id is a link into Jaeger.
  log('trace link')
  const href = await page.getAttribute('[data-testid=trace-link] >> nth=0', 'href')
  check(href.startsWith(jaeger + '/trace/'), 'trace link href: ' + href)
  const [popup] = await Promise.all([ctx.waitForEvent('page'), page.click('[data-testid=trace-link] >> nth=0')])
  await popup.waitForLoadState()
  results.trace_url = popup.url()
  check(popup.url() === href, `popup at ${popup.url()}, want ${href}`)
  check((await popup.textContent('body')).includes(href.split('/').pop()), 'Jaeger page shows the trace')
  await popup.close()

  // 3. A bad query: the API's error in words, with its position.
  log('error')
  await page.fill('[data-testid=logql]', '{namespace="prod"} |= ')
  await page.click('[data-testid=run]')
  const err = await (await page.waitForSelector('[data-testid=error]')).textContent()
  check(/line 1, col \d+/.test(err), 'error names the position: ' + err)
  check(err.includes('^'), 'error marks the column')
  results.error_text = err.split('\n')[0]
  await shot(page, '3-error')

  // 4. The volume histogram zooms the range when dragged.
  log('histogram')
  await page.selectOption('[data-testid=preset]', 'now-1h')
  await page.fill('[data-testid=logql]', '{namespace="prod"}')
  await page.click('[data-testid=run]')
  await page.waitForSelector('[data-testid=volume] rect')
  const box = await (await page.$('.chart svg')).boundingBox()
  const y = box.y + box.height / 2
  await page.mouse.move(box.x + box.width * 0.4, y)
  await page.mouse.down()
  await page.mouse.move(box.x + box.width * 0.55, y, { steps: 5 })
  await page.mouse.move(box.x + box.width * 0.7, y, { steps: 5 })
  await page.mouse.up()
  await page.waitForFunction(() => !new URL(location.href).searchParams.get('from').startsWith('now'))
  const u = new URL(page.url())
  const zf = Date.parse(u.searchParams.get('from')), zt = Date.parse(u.searchParams.get('to'))
  check(zt > zf && zt - zf < 0.4 * 3600e3 && zt - zf > 0.2 * 3600e3, `zoomed range ${u.searchParams.get('from')} .. ${u.searchParams.get('to')}`)
  check(zf > Date.now() - 3600e3 && zt < Date.now(), 'zoomed range inside the old one')
  results.zoomed_minutes = ((zt - zf) / 60e3).toFixed(1)
  await page.waitForSelector('[data-testid=volume] rect')
  await page.waitForFunction(() => !document.querySelector('[data-testid=progress]'))
  const zoomedTimes = await page.$$eval('.log-row .ts', (els) => els.map((e) => e.textContent))
  check(zoomedTimes.length > 0, 'lines in the zoomed range')
  await shot(page, '4-zoomed')

  // 5. A metric query is drawn as a chart.
  log('metric')
  await page.selectOption('[data-testid=preset]', 'now-1h')
  await page.fill('[data-testid=logql]', 'sum by (level) (count_over_time({namespace="prod"}[5m]))')
  await page.click('[data-testid=run]')
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=metric-chart] path').length >= 3)
  const legend = await page.textContent('[data-testid=metric-chart] .legend')
  check(legend.includes('level="error"') && legend.includes('level="info"'), 'metric legend: ' + legend)
  await shot(page, '5-metric')

  // 6a. Oldest first, and "load more" past the limit.
  log('load more')
  await page.goto(base + '/?' + new URLSearchParams({ query: '{namespace="dev"}', from: 'now-1h', to: 'now', limit: '1000', direction: 'forward' }))
  await page.waitForFunction(() => document.querySelector('[data-testid=info]')?.textContent?.startsWith('1,000 lines'))
  check((await page.textContent('.log-row >> nth=0')).includes('bulk line 00000 '), 'oldest first starts at the oldest line')
  // An edit of the query box that was not run does not change what
  // "load more" continues.
  await page.fill('[data-testid=logql]', '{namespace="prod"}')
  await page.click('[data-testid=load-more]')
  // The next page starts at the last line's timestamp (lines sharing it may
  // have been cut by the limit), so it repeats that line, which is dropped.
  await page.waitForFunction(() => document.querySelector('[data-testid=info]')?.textContent?.startsWith('1,999 lines'))
  await page.$eval('[data-testid=log-list]', (el) => (el.scrollTop = 990 * 22))
  check((await page.textContent('.log-row[data-index="999"]')).includes('bulk line 00999 '), 'first page ends at line 999')
  check((await page.textContent('.log-row[data-index="1000"]')).includes('bulk line 01000 '), 'second page starts at line 1000')
  await page.$eval('[data-testid=log-list]', (el) => (el.scrollTop = el.scrollHeight))
  check((await page.textContent('.log-row[data-index="1998"]')).includes('bulk line 01998 '), 'the second page continues the first without gaps or repeats')

  // 6. 50,000 lines: time to first line, bounded DOM rows, frame times.
  log('50k')
  const q50 = new URLSearchParams({ query: '{namespace="dev"}', from: 'now-1h', to: 'now', limit: String(bulkLines) })
  t0 = Date.now()
  await page.goto(base + '/console/?' + q50)
  await page.waitForSelector('.log-row', { timeout: 60000 })
  results.bulk_time_to_first_line_ms = Date.now() - t0
  await page.waitForFunction((n) => document.querySelector('[data-testid=info]')?.textContent?.startsWith(n.toLocaleString('en-US') + ' lines'), bulkLines)
  results.bulk_query_to_first_paint_ms = Math.round(await page.evaluate(() => window.__kmlog.firstLine))
  // Scroll the list by px per frame (to the end, or for at most n frames)
  // and collect the frame intervals and the console's render times.
  const scrollRun = (px, n) => page.evaluate(([px, n]) => new Promise((resolve) => {
    const el = document.querySelector('[data-testid=log-list]')
    const frames = []
    window.__kmlog.renders = []
    let maxRows = 0
    let last = performance.now()
    function step(now) {
      frames.push(now - last)
      last = now
      maxRows = Math.max(maxRows, document.querySelectorAll('.log-row').length)
      if (el.scrollTop + el.clientHeight >= el.scrollHeight - 1 || frames.length > n) {
        requestAnimationFrame(() => requestAnimationFrame(() => {
          const rows = [...document.querySelectorAll('.log-row')]
          const renders = window.__kmlog.renders
          delete window.__kmlog.renders
          resolve({ frames: frames.slice(1), renders, maxRows, lastIndex: Math.max(...rows.map((r) => Number(r.dataset.index))), oldest: rows.filter((r) => r.textContent.includes('bulk line 00000 ')).length })
        }))
        return
      }
      el.scrollTop += px
      requestAnimationFrame(step)
    }
    requestAnimationFrame(step)
  }), [px, n])
  const stats = (xs) => {
    const s = xs.slice().sort((a, b) => a - b)
    const p = (q) => s[Math.min(s.length - 1, Math.floor(s.length * q))].toFixed(1)
    return { n: s.length, p50: p(0.5), p95: p(0.95), p99: p(0.99), max: s[s.length - 1].toFixed(1) }
  }
  // Like a mouse wheel: 120 px a frame for 300 frames.
  const wheel = await scrollRun(120, 300)
  results.wheel_frame_ms = stats(wheel.frames)
  results.wheel_render_ms = stats(wheel.renders)
  // A fling from there to the end: 1,000 px a frame.
  const scroll = await scrollRun(1000, 1e9)
  results.fling_frame_ms = stats(scroll.frames)
  results.fling_render_ms = stats(scroll.renders)
  results.scroll_max_dom_rows = Math.max(wheel.maxRows, scroll.maxRows)
  check(results.scroll_max_dom_rows < 150, `DOM rows bounded: ${results.scroll_max_dom_rows}`)
  check(scroll.lastIndex === bulkLines - 1, `scrolled to the last line: index ${scroll.lastIndex}`)
  check(scroll.oldest === 1, 'the oldest line is at the bottom')
  await shot(page, '6-scrolled-50k')

  // 7. Live tail of a stream being pushed.
  log('tail')
  await page.goto(base + '/?' + new URLSearchParams({ query: '{namespace="tail"}', from: 'now-5m', to: 'now' }))
  await page.waitForSelector('[data-testid=tail]')
  await page.waitForFunction(() => !document.querySelector('[data-testid=progress]'))
  await page.click('[data-testid=tail]')
  await page.waitForFunction(() => document.querySelector('[data-testid=tail-status]')?.textContent === 'Live')
  let n = 0
  let stop = false
  const pusher = (async () => {
    while (!stop) {
      const ts = (BigInt(Date.now()) * 1000000n).toString()
      const body = { streams: [{ stream: { namespace: 'tail', app: 'ticker' }, values: [[ts, `tail line ${++n}`]] }] }
      const res = await fetch(base + '/loki/api/v1/push', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      if (!res.ok) throw new Error('push: ' + res.status)
      await new Promise((r) => setTimeout(r, 250))
    }
  })()
  t0 = Date.now()
  await page.waitForFunction(() => [...document.querySelectorAll('.log-row .line')].some((e) => e.textContent === 'tail line 8'), null, { timeout: 60000 })
  stop = true
  await pusher
  const tailLines = await rowsText(page)
  const nums = tailLines.map((l) => Number(l.replace('tail line ', '')))
  check(nums.length >= 8 && nums.every((x, i) => i === 0 || nums[i - 1] > x), 'tailed lines, newest first: ' + nums.slice(0, 10))
  results.tail_lines_seen = nums.length
  await shot(page, '7-tail')
  await page.click('[data-testid=tail-stop]')

}

// With gateway auth on: the token dialog, the bearer token on every API
// call, no tenant header, sessionStorage, a tenant's own lines only,
// live tail over the WebSocket with the token (and a bad token refused),
// and cancelling a slow query.
async function authChecks(page) {
  const tokenA = env('TOKEN_A')
  const apiCalls = []
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/loki/')) apiCalls.push(r.headers())
  })
  log('auth: token dialog')
  await page.goto(base + '/')
  await page.waitForSelector('[data-testid=token-dialog]')
  check((await page.textContent('[data-testid=tenant]')) === 'no token', 'no tenant before a token')
  check((await page.$$('text=/X-Scope-OrgID|choose.*tenant/i')).length === 0, 'no tenant picker')
  // Without a token the API says why, in words.
  await page.click('text=Close')
  await page.fill('[data-testid=logql]', '{app="ledger"}')
  await page.click('[data-testid=run]')
  const err = await (await page.waitForSelector('[data-testid=error]')).textContent()
  check(err.startsWith('Not signed in'), '401 in words: ' + err)
  await page.waitForSelector('[data-testid=token-dialog]')
  await shot(page, 'auth-1-token')
  await page.fill('[data-testid=token-input]', tokenA)
  await page.click('[data-testid=token-save]')
  await page.waitForSelector('.log-row')
  check((await page.evaluate(() => sessionStorage.getItem('kmlog.console.token'))) === tokenA, 'token kept in sessionStorage')
  check((await page.evaluate(() => localStorage.length)) === 0, 'nothing in localStorage')
  const lines = await rowsText(page)
  check(lines.length > 0 && lines.every((l) => l.includes('tenant a')), 'only tenant a lines: ' + lines.slice(0, 3))
  const authed = apiCalls.filter((h) => h.authorization)
  check(authed.length > 0 && authed.every((h) => h.authorization === 'Bearer ' + tokenA), 'bearer token on API calls')
  check(apiCalls.every((h) => !('x-scope-orgid' in h)), 'no X-Scope-OrgID from the console')
  check((await page.textContent('[data-testid=tenant]')).includes('from your token'), 'tenant from the token')
  await shot(page, 'auth-2-lines')

  log('auth: live tail over the WebSocket with the token')
  const sockets = []
  page.on('websocket', (ws) => sockets.push(ws.url()))
  await page.click('[data-testid=tail]')
  await page.waitForFunction(() => document.querySelector('[data-testid=tail-status]')?.textContent === 'Live')
  check(sockets.length === 1 && new URL(sockets[0]).pathname === '/loki/api/v1/tail', 'tail is a WebSocket: ' + sockets)
  check(!sockets[0].includes(tokenA), 'no token in the tail URL')
  const ts = (BigInt(Date.now()) * 1000000n).toString()
  const res = await fetch(base + '/loki/api/v1/push', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + tokenA },
    body: JSON.stringify({ streams: [{ stream: { app: 'ledger' }, values: [[ts, 'tenant a tailed line']] }] }),
  })
  check(res.ok, 'push as tenant a: ' + res.status)
  await page.waitForFunction(() => [...document.querySelectorAll('.log-row .line')].some((e) => e.textContent === 'tenant a tailed line'), null, { timeout: 60000 })
  // Tenant b's line pushed meanwhile never shows in tenant a's tail.
  const resB = await fetch(base + '/loki/api/v1/push', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + env('TOKEN_B') },
    body: JSON.stringify({ streams: [{ stream: { app: 'ledger' }, values: [[ts, 'tenant b tailed line']] }] }),
  })
  check(resB.ok, 'push as tenant b: ' + resB.status)
  const ts2 = (BigInt(Date.now()) * 1000000n).toString()
  await fetch(base + '/loki/api/v1/push', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + tokenA },
    body: JSON.stringify({ streams: [{ stream: { app: 'ledger' }, values: [[ts2, 'tenant a second tailed line']] }] }),
  })
  await page.waitForFunction(() => [...document.querySelectorAll('.log-row .line')].some((e) => e.textContent === 'tenant a second tailed line'), null, { timeout: 60000 })
  check((await rowsText(page)).every((l) => !l.includes('tenant b')), 'no tenant b line in the tail')
  check((await page.textContent('[data-testid=tail-status]')) === 'Live', 'still live over the WebSocket')
  await shot(page, 'auth-2b-tail')
  await page.click('[data-testid=tail-stop]')

  // A bad token: the WebSocket is refused, and the console says so.
  log('auth: tail with a bad token is refused')
  const good = await page.evaluate(() => sessionStorage.getItem('kmlog.console.token'))
  await page.evaluate((t) => sessionStorage.setItem('kmlog.console.token', t), env('TOKEN_BAD'))
  await page.click('[data-testid=tail]')
  await page.waitForFunction(() => /^Live tail stopped \(WebSocket code 1006/.test(document.querySelector('[data-testid=tail-status]')?.textContent ?? ''), null, { timeout: 30000 })
  await page.evaluate((t) => sessionStorage.setItem('kmlog.console.token', t), good)

  log('cancel a slow query')
  // Hold query_range answers back for 10 s, as a slow query would.
  await page.route('**/loki/api/v1/query_range**', async (route) => {
    await new Promise((r) => setTimeout(r, 10000))
    await route.continue().catch(() => {})
  })
  await page.click('[data-testid=run]')
  await page.waitForFunction(() => /Running query… [1-9]/.test(document.querySelector('[data-testid=progress]')?.textContent ?? ''))
  await shot(page, 'auth-3-slow')
  await page.click('[data-testid=cancel]')
  await page.waitForFunction(() => document.querySelector('[data-testid=error]')?.textContent === 'Cancelled.')
  check(!(await page.$('[data-testid=progress]')), 'progress gone after cancel')
  check((await page.$$('[data-testid=run]')).length === 1, 'run button back')
  await page.unroute('**/loki/api/v1/query_range**')

  // A label value with quotes and backslashes is escaped in the LogQL.
  log('auth: odd label value')
  const odd = env('ODD_VALUE')
  await page.selectOption('[data-testid=add-label]', 'path')
  await page.waitForFunction((v) => [...document.querySelectorAll('[data-testid=value-path] option')].some((o) => o.value === v), odd)
  await page.selectOption('[data-testid=value-path]', odd)
  const oddQuery = await page.inputValue('[data-testid=logql]')
  check(oddQuery === '{path=' + JSON.stringify(odd) + '}', 'escaped LogQL: ' + oddQuery)
  await page.click('[data-testid=run]')
  await page.waitForFunction(() => document.querySelector('[data-testid=info]')?.textContent?.startsWith('5 lines'))
  check((await rowsText(page)).every((l) => l.startsWith('tenant a odd path')), 'lines of the odd path')

  // A new tab (session) has no token.
  const other = await ctx.newPage()
  await other.goto(base + '/')
  await other.waitForSelector('[data-testid=token-dialog]')
  check((await other.evaluate(() => sessionStorage.getItem('kmlog.console.token'))) === null, 'a new tab has no token')
  await other.close()
}
