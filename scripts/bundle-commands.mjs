#!/usr/bin/env node
// Links the compiled CLI into few files, so a command starts without Node
// resolving and reading hundreds of modules one by one (`migrate status` used to
// load ~470: Kysely's ~400 ESM files and ~70 of engage's own).
//
//   node scripts/bundle-commands.mjs
//
// Runs in `npm run build` after tsc and before `oclif manifest`. Input: tsc's
// output in dist/.tsc/ (the JavaScript the tests have always run; esbuild only
// links it). Output:
//   dist/commands/**.js  one entry per command, where oclif finds commands
//   dist/chunks/*.js     code shared between commands, each module exactly once
//                        (esbuild splitting), so one process never holds two
//                        copies of a class and `instanceof` keeps working;
//                        outside dist/commands, so oclif takes no chunk for a command.
// A dynamic import() in the sources stays a dynamic import of its own chunk
// (the migrations index) or of the package (umzug, better-sqlite3, pg, twilio,
// the AWS SDK, listr2, @inquirer/prompts): what a command loads lazily today
// it still loads lazily.
//
// Only the packages in BUNDLED_PACKAGES are copied in; every other package
// stays an import that Node resolves from node_modules at run time. That keeps
// @oclif/core one instance shared with bin/run.js, native addons
// (better-sqlite3) and CommonJS packages where they work, and files that
// locate siblings through import.meta.url or require.resolve in their package.
//
// In engage's own linked code import.meta.url is the URL of a chunk. Walking up
// to package.json, createRequire() and import.meta.resolve() of a package work
// from there as from dist/src; a path relative to the source file does not, so
// the build fails on one (assertNoFileRelativeUrls).
import {build} from 'esbuild'
import {readdirSync, readFileSync, rmSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

/**
 * Pure-ESM packages with many files and no file-relative lookups: Kysely is
 * ~400 modules, about 65 ms of `migrate status`'s start-up when loaded
 * file by file. Engage's only copy of it is the bundled one (no external
 * package imports kysely), so its classes exist once.
 */
const BUNDLED_PACKAGES = new Set(['kysely'])

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const DIST = join(ROOT, 'dist')
const COMPILED = join(DIST, '.tsc')

/** The package a bare specifier names: `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageName(specifier) {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
}

/** esbuild plugin: bare specifiers stay external unless their package is in BUNDLED_PACKAGES. */
const externalPackages = {
  name: 'external-packages',
  setup(builder) {
    builder.onResolve({filter: /^[^./]/}, ({path}) => {
      if (path.startsWith('node:') || !BUNDLED_PACKAGES.has(packageName(path))) return {external: true}
      return undefined
    })
  },
}

function javascriptFiles(directory) {
  return readdirSync(directory, {withFileTypes: true}).flatMap((entry) => {
    const path = join(directory, entry.name)
    if (entry.isDirectory()) return javascriptFiles(path)
    return entry.name.endsWith('.js') ? [path] : []
  })
}

/**
 * Worker-thread entries the CLI starts by path: linked like the commands (their
 * shared modules come from the same chunks) and put where their spawner looks
 * for them, since they are not beside it in a chunk.
 */
const WORKER_ENTRIES = [
  // BUILT_CRYPTO_WORKER in src/channel-settings/consolidation/crypto-pool.ts
  {in: 'src/channel-settings/consolidation/crypto-worker.js', out: 'workers/consolidation-crypto'},
]

async function bundleCommands() {
  const commands = javascriptFiles(join(COMPILED, 'commands'))
  if (commands.length === 0) throw new Error(`No compiled commands in ${COMPILED}/commands: run tsc -p tsconfig.build.json first.`)
  const workers = WORKER_ENTRIES.map((entry) => ({in: join(COMPILED, entry.in), out: entry.out}))
  const entryPoints = [...commands.map((path) => ({in: path, out: relative(COMPILED, path).replace(/\.js$/, '')})), ...workers]
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints,
    outbase: COMPILED,
    outdir: DIST,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // No keepNames: its __name() call per class and function costs ~3 ms of
    // `migrate status`'s start-up. Linking renames a top-level name only where
    // two modules in one chunk declare the same one (today: the migrations'
    // up/down become up2, down2, ...); engage's errors set `name` themselves and
    // nothing reads a renamed function's `.name`.
    plugins: [externalPackages],
    logLevel: 'warning',
    metafile: true,
  })
  rmSync(COMPILED, {recursive: true, force: true})
  return result.metafile
}

/** `new URL('./x' or '../x', import.meta.url)` names a file beside a source file, which the chunk is not. */
const FILE_RELATIVE_URL = /new URL\(\s*['"`]\.\.?\/[^'"`]*['"`]\s*,\s*import\.meta\.url/

function assertNoFileRelativeUrls(outputs) {
  for (const output of outputs) {
    const found = FILE_RELATIVE_URL.exec(readFileSync(join(ROOT, output), 'utf8'))
    if (found) throw new Error(`${output} has ${found[0]}): a path relative to a source file, which linking moves. Locate the file another way (projectRoot() in src/config/project-root.ts) or keep it out of the CLI's import graph.`)
  }
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]
if (isMain) {
  // A previous build's chunks would otherwise stay beside the new ones.
  rmSync(join(DIST, 'commands'), {recursive: true, force: true})
  rmSync(join(DIST, 'chunks'), {recursive: true, force: true})
  rmSync(join(DIST, 'workers'), {recursive: true, force: true})
  const metafile = await bundleCommands()
  const outputs = Object.keys(metafile.outputs)
  assertNoFileRelativeUrls(outputs)
  const commands = outputs.filter((path) => path.startsWith('dist/commands/')).length
  process.stderr.write(`dist: ${commands} commands, ${outputs.length - commands} shared chunks\n`)
}
