/**
 * Start-up cost of the built CLI (bin/run.js over dist/): `engage --version`,
 * `engage --help` and `engage migrate status` on a migrated SQLite file, timed
 * in the same run beside `node -e 0` and a one-command oclif CLI
 * (bench/fixtures/one-command-cli, on the same @oclif/core). Runs are
 * interleaved round by round, so load from other processes falls on every
 * command alike. Prints median and p90 wall ms per command, the ratio of
 * `migrate status` to the one-command CLI (target ≤ 1.5×), and which heavy
 * packages each engage command loaded (target: none). No assertions.
 *
 *   node --import tsx bench/startup.ts [--runs 30] [--root DIR]
 *
 * --root points at another engage checkout or build (bin/run.js, dist/,
 * oclif.manifest.json); default: this repository.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const HERE = dirname(fileURLToPath(import.meta.url))
const argument = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`)
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback
}
const runs = Number(argument('runs', '30'))
const root = resolve(argument('root', join(HERE, '..')))
const engageBin = join(root, 'bin', 'run.js')
const oneCommandBin = join(HERE, 'fixtures', 'one-command-cli', 'bin', 'run.js')
const probe = join(HERE, 'fixtures', 'module-probe.mjs')

/** Packages that only the commands using them may load. */
const HEAVY = [/node_modules\/twilio\//, /node_modules\/@aws-sdk\//, /node_modules\/cdktf\//, /node_modules\/@cdktf\//, /node_modules\/pg\//]

interface Subject {
  name: string
  args: string[]
  engage: boolean
}

if (!existsSync(join(root, 'dist', 'commands', 'migrate', 'status.js'))) {
  console.error(`bench/startup: ${join(root, 'dist')} has no built CLI (dist/commands/migrate/status.js is missing); build it first (npm run build).`)
  process.exit(1)
}

const work = mkdtempSync(join(tmpdir(), 'engage-bench-startup-'))
const env = {PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: `sqlite:${join(work, 'engage.db')}`}

function run(args: string[], extraEnv: Record<string, string> = {}): {ms: number; code: number | null; stderr: string} {
  const started = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, {cwd: work, env: {...env, ...extraEnv}, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe']})
  return {ms: Number(process.hrtime.bigint() - started) / 1e6, code: result.status, stderr: result.stderr}
}

function quantile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q
  const low = Math.floor(at)
  const high = Math.ceil(at)
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low)
}

try {
  const migrated = run([engageBin, 'migrate', 'up'])
  if (migrated.code !== 0) throw new Error(`engage migrate up failed (exit ${migrated.code}): ${migrated.stderr}`)

  const subjects: Subject[] = [
    {name: 'node -e 0', args: ['-e', '0'], engage: false},
    {name: 'one-command oclif CLI', args: [oneCommandBin], engage: false},
    {name: 'engage --version', args: [engageBin, '--version'], engage: true},
    {name: 'engage --help', args: [engageBin, '--help'], engage: true},
    {name: 'engage migrate status', args: [engageBin, 'migrate', 'status'], engage: true},
  ]
  const timings = new Map(subjects.map((subject) => [subject.name, [] as number[]]))
  for (const subject of subjects) {
    const warm = run(subject.args)
    if (warm.code !== 0) throw new Error(`${subject.name} failed (exit ${warm.code}): ${warm.stderr}`)
  }
  for (let round = 0; round < runs; round++) {
    // A different order each round, so no command always follows the same neighbour.
    const order = subjects.map((subject, index) => ({subject, key: (index * 7 + round * 3) % subjects.length})).sort((a, b) => a.key - b.key)
    for (const {subject} of order) timings.get(subject.name)!.push(run(subject.args).ms)
  }

  const cpus = (await import('node:os')).cpus().length
  const load = (await import('node:os')).loadavg()[0]!.toFixed(1)
  console.log(`bench/startup: Node ${process.version}, ${runs} runs each, interleaved; ${cpus} CPUs, load average ${load}; CLI at ${root}`)
  const stats = new Map<string, {median: number; p90: number}>()
  for (const subject of subjects) {
    const sorted = [...timings.get(subject.name)!].sort((a, b) => a - b)
    const figure = {median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9)}
    stats.set(subject.name, figure)
    console.log(`  ${subject.name.padEnd(24)} median ${figure.median.toFixed(0).padStart(5)} ms   p90 ${figure.p90.toFixed(0).padStart(5)} ms   min ${sorted[0]!.toFixed(0).padStart(5)} ms`)
  }
  const status = stats.get('engage migrate status')!
  const baseline = stats.get('one-command oclif CLI')!
  console.log(`  migrate status / one-command oclif CLI: median ${(status.median / baseline.median).toFixed(2)}×, p90 ${(status.p90 / baseline.p90).toFixed(2)}× (target ≤ 1.5×)`)

  console.log('  heavy modules (twilio, @aws-sdk/*, cdktf, @cdktf/*, pg) loaded:')
  for (const subject of subjects.filter((entry) => entry.engage)) {
    const list = join(work, 'modules.txt')
    rmSync(list, {force: true})
    const probed = run(['--import', probe, ...subject.args], {ENGAGE_MODULE_PROBE: list})
    if (probed.code !== 0) throw new Error(`${subject.name} failed under the module probe: ${probed.stderr}`)
    const loaded = readFileSync(list, 'utf8').split('\n')
    const heavy = [...new Set(loaded.flatMap((line) => HEAVY.filter((pattern) => pattern.test(line)).map((pattern) => /node_modules\/((@[^/]+\/)?[^/]+)\//.exec(line)![1]!)))]
    const packages = new Set(loaded.map((line) => /node_modules\/((@[^/]+\/)?[^/]+)\//.exec(line)?.[1]).filter(Boolean))
    // Files, not node: built-ins; the ESM hook and the require cache both list some, hence the set.
    const files = new Set(loaded.filter((line) => line !== '' && !line.startsWith('node:')).map((line) => line.replace(/^file:\/\//, '')))
    console.log(`    ${subject.name.padEnd(24)} ${heavy.length === 0 ? 'none' : heavy.join(', ')}   (${packages.size} packages, ${files.size} files in all)`)
  }
} finally {
  rmSync(work, {recursive: true, force: true})
}
