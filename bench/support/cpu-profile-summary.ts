/**
 * Where a .cpuprofile's time went, by part of the pipeline: each sample is
 * charged to the innermost frame on its stack that belongs to a known part
 * (a library or one of our source folders), so node's own http/net frames
 * count for whoever called them; samples with no such frame are node core
 * (socket reads, the http parser entering from the event loop), GC or idle.
 *
 *   node --import tsx bench/support/cpu-profile-summary.ts [--top N] FILE.cpuprofile [FILE2 …]
 *
 * A second table charges the database's time to whoever ran the query (the
 * same walk with the database's frames passed over). --top N also lists the
 * N functions with the most self time.
 */
import {readFileSync} from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: {functionName: string; url: string; lineNumber: number}
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** First matching rule wins; more specific paths first. */
const PARTS: Array<[string, RegExp]> = [
  // The sandbox's HTTP client for the SDK is the SDK's transport, not the sandbox.
  ['twilio SDK', /node_modules\/twilio\/|src\/twilio-sandbox\/sandbox-http-client/],
  ['axios (twilio SDK HTTP)', /node_modules\/(axios|follow-redirects|form-data|https-proxy-agent|agent-base)\//],
  ['sandbox', /src\/twilio-sandbox\//],
  ['webhook (serve, twilio-webhook, messages)', /src\/(serve|pipeline\/twilio-webhook|messages|webhooks|backend-status|handlers\/twilio-webhook)\//],
  ['send (processor, providers, worker)', /src\/(pipeline\/send|providers|worker|channel-settings|crypto|handlers\/send)/],
  ['queue: local', /src\/queue\/local\//],
  ['queue: SQS client (@aws-sdk, smithy)', /node_modules\/(@aws-sdk|@smithy|@aws-crypto|fast-xml-parser)\//],
  ['queue: fauxqs server', /node_modules\/fauxqs|test\/support\/fauxqs/],
  ['queue: other', /src\/queue\//],
  ['database (kysely, better-sqlite3, pg, src/db)', /node_modules\/(kysely|better-sqlite3|pg|pg-[a-z]+)\/|src\/db\//],
  ['bench harness', /bench\/|test\/support\//],
  ['tsx/esbuild loader', /node_modules\/(tsx|esbuild)\//],
]

const DATABASE = 'database (kysely, better-sqlite3, pg, src/db)'

function summarize(path: string, top: number): void {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile
  const parent = new Map<number, number>()
  const byId = new Map<number, ProfileNode>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const classifier = (transparent: string | undefined) => {
    const memo = new Map<number, string>()
    const partOf = (id: number): string => {
      const known = memo.get(id)
      if (known) return known
      const {url, functionName} = byId.get(id)!.callFrame
      let part: string | undefined
      if (functionName === '(garbage collector)') part = 'GC'
      else if (functionName === '(idle)') part = 'idle'
      else if (functionName === '(program)') part = 'node core (program)'
      else part = PARTS.find(([name, pattern]) => name !== transparent && pattern.test(url))?.[0]
      if (!part) {
        const up = parent.get(id)
        part = up === undefined ? (transparent ? DATABASE : 'node core (no project frame)') : partOf(up)
      }
      memo.set(id, part)
      return part
    }
    return partOf
  }
  const partOf = classifier(undefined)
  const ownerOf = classifier(DATABASE)
  const totals = new Map<string, number>()
  const databaseBy = new Map<string, number>()
  const selfTimes = new Map<string, number>()
  let all = 0
  profile.samples.forEach((id, index) => {
    const micros = profile.timeDeltas[index] ?? 0
    const part = partOf(id)
    totals.set(part, (totals.get(part) ?? 0) + micros)
    if (part === DATABASE) {
      const owner = ownerOf(id)
      databaseBy.set(owner, (databaseBy.get(owner) ?? 0) + micros)
    }
    const {functionName, url, lineNumber} = byId.get(id)!.callFrame
    const name = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^.*\/(src|bench|test)\//, '$1/')}:${lineNumber + 1} [${part}]`
    selfTimes.set(name, (selfTimes.get(name) ?? 0) + micros)
    all += micros
  })
  const busy = all - (totals.get('idle') ?? 0)
  console.log(`${path}: ${(all / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy`)
  for (const [part, micros] of [...totals].sort((a, b) => b[1] - a[1])) {
    const share = part === 'idle' ? '' : `${((100 * micros) / busy).toFixed(1).padStart(5)} % of busy`
    console.log(`  ${part.padEnd(46)} ${(micros / 1e6).toFixed(2).padStart(6)} s  ${share}`)
  }
  console.log('  database time by caller (innermost project frame above the query):')
  for (const [owner, micros] of [...databaseBy].sort((a, b) => b[1] - a[1])) {
    console.log(`    ${owner.padEnd(44)} ${(micros / 1e6).toFixed(2).padStart(6)} s  ${((100 * micros) / busy).toFixed(1).padStart(5)} % of busy`)
  }
  if (top === 0) return
  console.log(`  top ${top} functions by self time:`)
  for (const [name, micros] of [...selfTimes].filter(([name]) => !name.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`    ${((100 * micros) / busy).toFixed(1).padStart(5)} %  ${name}`)
  }
}

const topAt = process.argv.indexOf('--top')
const top = topAt >= 0 ? Number(process.argv[topAt + 1]) : 0
const files = process.argv.slice(2).filter((arg, index, args) => arg !== '--top' && args[index - 1] !== '--top')
for (const file of files) summarize(file, top)
