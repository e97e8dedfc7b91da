// A small HTTP load generator, run in its own process so it does not share a
// CPU loop with the server under test: N keep-alive connections, each sending
// the next request as soon as the previous answer arrived, for a fixed time.
// Input (one JSON argument): {url, connections, durationMs, warmupMs, requestsFile}
// where requestsFile holds a JSON array of {path?, headers, body}. Output (stdout,
// one JSON line): {requests, byStatus, errors, seconds, perSecond, p50Ms, p99Ms}.
import {readFileSync} from 'node:fs'
import {Agent, request} from 'node:http'

const config = JSON.parse(process.argv[2])
const requests = JSON.parse(readFileSync(config.requestsFile, 'utf8'))
const target = new URL(config.url)
const agent = new Agent({keepAlive: true, maxSockets: config.connections})
let next = 0
let measuring = false
let stopped = false
const byStatus = {}
const latencies = []
let errors = 0
let completed = 0

function send(spec) {
  return new Promise((resolve) => {
    const body = Buffer.from(spec.body)
    const started = process.hrtime.bigint()
    const req = request(
      {host: target.hostname, port: target.port, path: spec.path ?? target.pathname, method: 'POST', agent, headers: {...spec.headers, 'content-length': body.length}},
      (res) => {
        res.resume()
        res.on('end', () => {
          if (measuring) {
            completed++
            byStatus[res.statusCode] = (byStatus[res.statusCode] ?? 0) + 1
            latencies.push(Number(process.hrtime.bigint() - started) / 1e6)
          }
          resolve()
        })
      },
    )
    req.on('error', () => {
      if (measuring) errors++
      resolve()
    })
    req.end(body)
  })
}

async function connection() {
  while (!stopped) await send(requests[next++ % requests.length])
}

const lanes = Array.from({length: config.connections}, connection)
await new Promise((resolve) => setTimeout(resolve, config.warmupMs ?? 500))
measuring = true
const start = process.hrtime.bigint()
await new Promise((resolve) => setTimeout(resolve, config.durationMs))
measuring = false
const seconds = Number(process.hrtime.bigint() - start) / 1e9
stopped = true
await Promise.all(lanes)
agent.destroy()
latencies.sort((a, b) => a - b)
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? null
process.stdout.write(
  JSON.stringify({requests: completed, byStatus, errors, seconds, perSecond: completed / seconds, p50Ms: at(0.5), p99Ms: at(0.99), sent: next}) + '\n',
)
