import {spawnSync} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {createTestDatabase, DIALECTS, type TestDatabase} from '../support/databases.js'
import {BIN, PROJECT_ROOT, runCli} from '../support/run-cli.js'

const PROBE = join(PROJECT_ROOT, 'bench', 'fixtures', 'module-probe.mjs')
const HEAVY = ['twilio', '@aws-sdk', 'cdktf', '@cdktf', 'pg'] as const
/** bin/run.js over dist/, linked by scripts/bundle-commands.mjs (not ENGAGE_TEST_BIN=dev, which runs the sources). */
const BUILT = process.env.ENGAGE_TEST_BIN !== 'dev'

/** The packages (node_modules/<name>/) one run of the CLI loaded, recorded by bench/fixtures/module-probe.mjs. */
function packagesLoaded(dir: string, args: string[], env: Record<string, string>): {code: number | null; packages: Set<string>} {
  const list = join(dir, `modules-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`)
  const devArgs = BUILT ? [] : ['--import', 'tsx']
  const result = spawnSync(process.execPath, [...devArgs, '--import', PROBE, BIN, ...args], {
    // The project folder, where `--import tsx` resolves (dev mode); the database comes from DATABASE_URL.
    cwd: PROJECT_ROOT,
    env: {PATH: process.env.PATH, HOME: process.env.HOME, ENGAGE_MODULE_PROBE: list, ...env},
    encoding: 'utf8',
  })
  const packages = new Set<string>()
  for (const line of readFileSync(list, 'utf8').split('\n')) {
    const match = /node_modules\/((@[^/]+)\/[^/]+|[^/@][^/]*)\//.exec(line)
    if (match) packages.add(match[2] ?? match[1]!)
  }
  return {code: result.status, packages}
}

const heavyIn = (packages: Set<string>) => HEAVY.filter((name) => packages.has(name))

describe.each(DIALECTS)('start-up loads no heavy module it does not use, on %s', (dialect) => {
  let testDb: TestDatabase

  beforeEach(async () => {
    testDb = await createTestDatabase(dialect)
  })
  afterEach(async () => {
    await testDb.dispose()
  })

  it('--version, --help and migrate status load neither twilio, the AWS SDK nor cdktf; pg only on PostgreSQL; built, Kysely from the bundle', async () => {
    const up = await runCli(['migrate', 'up', '--database-url', testDb.url])
    expect(up.code, up.stderr).toBe(0)
    const env = {DATABASE_URL: testDb.url}

    const version = packagesLoaded(testDb.dir, ['--version'], env)
    const help = packagesLoaded(testDb.dir, ['--help'], env)
    const status = packagesLoaded(testDb.dir, ['migrate', 'status'], env)

    expect([version.code, help.code, status.code]).toEqual([0, 0, 0])
    // The probe sees what was loaded: oclif itself always is.
    expect(version.packages.has('@oclif')).toBe(true)
    expect(heavyIn(version.packages)).toEqual([])
    expect(heavyIn(help.packages)).toEqual([])
    expect(heavyIn(status.packages)).toEqual(dialect === 'postgres' ? ['pg'] : [])
    // The build links Kysely into dist/chunks: its ~400 files are not read one by one at start-up.
    if (BUILT) expect(status.packages.has('kysely')).toBe(false)
  })
})

describe.skipIf(!BUILT)('the built CLI', () => {
  it('every command in the oclif manifest imports from dist in one process and exports a command class', () => {
    const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {relativePath: string[]}>}
    const files = Object.values(manifest.commands).map((command) => join(PROJECT_ROOT, ...command.relativePath))
    // One process for all: the shared chunks load once and every external import must resolve from dist/.
    const script = `import {pathToFileURL} from 'node:url'
for (const file of JSON.parse(process.env.COMMAND_FILES)) {
  const module = await import(pathToFileURL(file).href)
  if (typeof module.default?.prototype?.run !== 'function') throw new Error(file + ' exports no command class')
}`
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: PROJECT_ROOT,
      env: {PATH: process.env.PATH, HOME: process.env.HOME, COMMAND_FILES: JSON.stringify(files)},
      encoding: 'utf8',
    })

    expect(result.status, result.stderr).toBe(0)
    // One built entry per command source, each where oclif looks for commands.
    const sources = readdirSync(join(PROJECT_ROOT, 'commands'), {recursive: true, encoding: 'utf8'}).filter((file) => file.endsWith('.ts'))
    expect(files.map((file) => file.slice(join(PROJECT_ROOT, 'dist', 'commands').length + 1)).sort()).toEqual(sources.map((file) => file.replace(/\.ts$/, '.js')).sort())
  })
})
