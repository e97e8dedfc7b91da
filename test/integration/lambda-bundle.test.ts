import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {buildAllLambdas} from '../../src/lambda/build-all.js'
import {buildLambdaBundles, NativeModuleError} from '../../src/lambda/bundle.js'
import {SEND_CAMPAIGN_MESSAGE} from '../../src/lambda/functions.js'
import {NotFoundError} from '../../src/errors/engage-error.js'
import {createTestDatabase} from '../support/databases.js'
import {PROJECT_ROOT} from '../support/run-cli.js'

const NODE_PATHS = [join(PROJECT_ROOT, 'node_modules')]

/** Fixture handlers, written to a temp dir: the real handlers are a later issue. */
const FIXTURES: Record<string, string> = {
  'uses-pg.ts': [
    "import pg from 'pg'",
    'export async function handler(event: {url: string}) {',
    '  const client = new pg.Client({connectionString: event.url})',
    '  await client.connect()',
    "  try { return (await client.query('select 40 + 2 as answer')).rows[0] } finally { await client.end() }",
    '}',
  ].join('\n'),
  'uses-sqlite.ts': ["import Database from 'better-sqlite3'", "export const handler = () => new Database(':memory:').prepare('select 1').get()"].join('\n'),
  'uses-addon.ts': ['declare const require: (id: string) => unknown', "export const handler = () => require('./build/Release/addon.node')"].join('\n'),
  'build/Release/addon.node': 'not really an addon',
  'lib-with-sqlite.ts': [
    "export const used = () => 'tree-shaken'",
    "export const unused = async () => new (await import('better-sqlite3')).default(':memory:')",
  ].join('\n'),
  'uses-lib.ts': ["import {used} from './lib-with-sqlite.js'", 'export const handler = async () => used()'].join('\n'),
}

describe('buildLambdaBundles', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'engage-bundle-'))
    for (const [name, text] of Object.entries(FIXTURES)) {
      mkdirSync(join(dir, name, '..'), {recursive: true})
      writeFileSync(join(dir, name), text)
    }
  })
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  const build = (outDir: string, entries: {name: string; entry: string}[]) => buildLambdaBundles({entries, outDir: join(dir, outDir), rootDir: dir, nodePaths: NODE_PATHS})

  it('bundles pg into a self-contained index.mjs that runs from an empty directory against PostgreSQL', async () => {
    const [bundle] = await build('out-pg', [{name: 'uses-pg', entry: 'uses-pg.ts'}])

    expect(bundle).toMatchObject({name: 'uses-pg', zipPath: join(dir, 'out-pg', 'uses-pg.zip')})
    const zip = readFileSync(bundle!.zipPath)
    expect(bundle!.bytes).toBe(zip.byteLength)
    expect(bundle!.sha256).toBe(createHash('sha256').update(zip).digest('hex'))
    // Info-ZIP reads our archive: one entry, index.mjs, 0644, fixed timestamp.
    expect(execFileSync('unzip', ['-Z', '-l', bundle!.zipPath], {encoding: 'utf8'})).toMatch(/-rw-r--r--.*unx\s+\d+.*80-Jan-01 00:00 index\.mjs/)
    const code = execFileSync('unzip', ['-p', bundle!.zipPath, 'index.mjs'])
    expect(code.byteLength).toBe(bundle!.codeBytes)

    // A directory with no node_modules anywhere above: only what is bundled can load.
    const runDir = mkdtempSync(join(tmpdir(), 'engage-bundle-run-'))
    const database = await createTestDatabase('postgres')
    try {
      writeFileSync(join(runDir, 'index.mjs'), code)
      const module = (await import(pathToFileURL(join(runDir, 'index.mjs')).href)) as {handler: (event: {url: string}) => Promise<unknown>}
      await expect(module.handler({url: database.url})).resolves.toEqual({answer: 42})
    } finally {
      await database.dispose()
      rmSync(runDir, {recursive: true, force: true})
    }
  })

  it('gives byte-identical zips for the same sources', async () => {
    const entries = [
      {name: 'uses-pg', entry: 'uses-pg.ts'},
      {name: 'uses-lib', entry: 'uses-lib.ts'},
    ]
    const first = await build('out-a', entries)
    const second = await build('out-b', entries)

    expect(second.map((bundle) => bundle.sha256)).toEqual(first.map((bundle) => bundle.sha256))
    expect(readFileSync(second[0]!.zipPath).equals(readFileSync(first[0]!.zipPath))).toBe(true)
    expect(new Set(first.map((bundle) => bundle.sha256)).size).toBe(2)
  })

  it('refuses better-sqlite3, naming the module and its importer, and writes no zip at all', async () => {
    const error = await build('out-sqlite', [
      {name: 'uses-pg', entry: 'uses-pg.ts'},
      {name: 'uses-sqlite', entry: 'uses-sqlite.ts'},
    ]).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(NativeModuleError)
    expect((error as Error).message).toMatch(/uses-sqlite: native module "better-sqlite3".*imported by uses-sqlite\.ts/)
    expect(existsSync(join(dir, 'out-sqlite'))).toBe(false)
  })

  it('refuses a .node addon', async () => {
    await expect(build('out-addon', [{name: 'uses-addon', entry: 'uses-addon.ts'}])).rejects.toThrow(/native module ".\/build\/Release\/addon.node" \(a compiled .node addon/)
  })

  it('accepts a native import that tree-shaking removes', async () => {
    const [bundle] = await build('out-lib', [{name: 'uses-lib', entry: 'uses-lib.ts'}])

    const code = execFileSync('unzip', ['-p', bundle!.zipPath, 'index.mjs'], {encoding: 'utf8'})
    expect(code).toContain('tree-shaken')
    expect(code).not.toContain('better-sqlite3')
  })

  it('names every missing entry and writes nothing', async () => {
    const error = await build('out-missing', [
      {name: 'uses-pg', entry: 'uses-pg.ts'},
      {name: 'ghost', entry: 'handlers/ghost.ts'},
    ]).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(NotFoundError)
    expect((error as NotFoundError).code).toBe('LAMBDA_ENTRY_MISSING')
    expect((error as Error).message).toContain('ghost: handlers/ghost.ts')
    expect(readdirSync(dir)).not.toContain('out-missing')
  })
})

describe('engage lambda build', () => {
  it('fails naming the missing handler entry file of a function spec, and writes nothing', async () => {
    // A spec like the registry's, pointing at an entry that does not exist (the real handlers do).
    const outDir = join(mkdtempSync(join(tmpdir(), 'engage-lambda-missing-')), 'zips')
    const ghost = {...SEND_CAMPAIGN_MESSAGE, name: 'ghost', entry: 'src/handlers/ghost-handler.ts'}
    try {
      const error = await buildAllLambdas({outDir, functions: [SEND_CAMPAIGN_MESSAGE, ghost]}).catch((caught: unknown) => caught)

      expect(error).toBeInstanceOf(NotFoundError)
      expect((error as NotFoundError).code).toBe('LAMBDA_ENTRY_MISSING')
      expect((error as Error).message).toContain('ghost: src/handlers/ghost-handler.ts')
      expect((error as Error).message).not.toContain('send-campaign-message:')
      expect(existsSync(outDir)).toBe(false)
    } finally {
      rmSync(join(outDir, '..'), {recursive: true, force: true})
    }
  })
})
