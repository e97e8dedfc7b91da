import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync} from 'node:fs'
import {builtinModules} from 'node:module'
import {join, relative, resolve} from 'node:path'
import type {Metafile, Plugin} from 'esbuild'
import {writeAtomically} from '../config/dotenv-writer.js'
import {EngageError, NotFoundError} from '../errors/engage-error.js'
import {bundleZipPath} from './functions.js'
import {writeDeterministicZip} from './zip.js'

/** One handler to bundle: the zip is called `<name>.zip`; `entry` exports `handler`. */
export interface BundleEntry {
  name: string
  /** Absolute path (or relative to `rootDir`) of the entry module. */
  entry: string
}

export interface BuildLambdaBundlesOptions {
  entries: readonly BundleEntry[]
  /** Where the zips go (created if missing). */
  outDir: string
  /** Directory that relative entries and reported paths are relative to; default the working directory. */
  rootDir?: string
  /** Extra `node_modules` directories to resolve packages from (entries outside the project). */
  nodePaths?: string[]
}

/** One written bundle. `bytes` and `sha256` are of the zip file. */
export interface LambdaBundle {
  name: string
  zipPath: string
  bytes: number
  /** Size of the JavaScript (`index.mjs` and its chunks) before compression. */
  codeBytes: number
  /** Files in the zip: `index.mjs` first, then the chunks it imports on demand. */
  files: string[]
  sha256: string
}

/** A bundle refused because a native addon would have to be loaded at runtime. */
export class NativeModuleError extends EngageError {
  constructor(message: string, details: Record<string, unknown>) {
    super(message, {
      code: 'LAMBDA_NATIVE_MODULE',
      details,
      suggestions: [
        'Lambda zips hold JavaScript only: keep the native module out of the handler\'s import graph (import the PostgreSQL path directly, not a module that also loads better-sqlite3).',
      ],
    })
    this.name = 'NativeModuleError'
  }
}

/** The files the bundle step produced for one entry (`index.mjs` and its lazy chunks), before anything is written. */
interface BuiltBundle {
  name: string
  files: {name: string; data: Uint8Array}[]
}

/**
 * Optional native dependencies that packages load inside a try/catch and
 * work without: external, and allowed to stay unresolved in the bundle.
 * (`pg` uses `pg-native` only when asked for `pg.native`.)
 */
export const OPTIONAL_NATIVE_MODULES = ['pg-native'] as const

// Lambda runs ESM; bundled CommonJS still calls require() for builtins, so give it one.
const REQUIRE_BANNER = "import {createRequire as __engageCreateRequire} from 'node:module';const require=__engageCreateRequire(import.meta.url);"

/**
 * Bundles each Lambda handler into minified ESM (`index.mjs` plus
 * `chunks/*.mjs` for what it imports on demand; node22, tree-shaken, `pg`
 * and every other dependency included, so the zip needs no node_modules) and
 * writes it as a deterministic zip to `<outDir>/<name>.zip`: the same
 * sources always give the same SHA-256.
 * Native addons cannot run from a zip built on another machine, so any
 * `.node` file or package with a `binding.gyp` (better-sqlite3) reachable
 * from a handler fails the build, naming the module and who imports it.
 * Every entry is checked and built in memory first; nothing is written unless
 * all succeed.
 */
export async function buildLambdaBundles(options: BuildLambdaBundlesOptions): Promise<LambdaBundle[]> {
  const rootDir = resolve(options.rootDir ?? process.cwd())
  const entries = options.entries.map((entry) => ({name: entry.name, entry: resolve(rootDir, entry.entry)}))
  const missing = entries.filter((entry) => !existsSync(entry.entry))
  if (missing.length > 0) {
    const list = missing.map((entry) => `${entry.name}: ${relative(rootDir, entry.entry) || entry.entry}`)
    throw new NotFoundError(`Lambda entry file${missing.length > 1 ? 's' : ''} missing — ${list.join('; ')}`, {
      code: 'LAMBDA_ENTRY_MISSING',
      details: {missing: missing.map((entry) => ({name: entry.name, entry: entry.entry}))},
      suggestions: ['Each handler module must exist and export `handler` before it can be bundled.'],
    })
  }

  const built: BuiltBundle[] = []
  for (const entry of entries) built.push(await bundleOne(entry, rootDir, options.nodePaths ?? []))

  mkdirSync(options.outDir, {recursive: true})
  const results: LambdaBundle[] = []
  for (const bundle of built) {
    const zip = writeDeterministicZip(bundle.files)
    const zipPath = bundleZipPath(options.outDir, bundle.name)
    writeAtomically(zipPath, zip, 0o644)
    results.push({
      name: bundle.name,
      zipPath,
      files: bundle.files.map((file) => file.name),
      bytes: zip.byteLength,
      codeBytes: bundle.files.reduce((sum, file) => sum + file.data.byteLength, 0),
      sha256: createHash('sha256').update(zip).digest('hex'),
    })
  }
  return results
}

async function bundleOne(entry: {name: string; entry: string}, rootDir: string, nodePaths: string[]): Promise<BuiltBundle> {
  // esbuild is a dev-time tool: load it only when bundling.
  const esbuild = await import('esbuild')
  const nativeExternals = new Map<string, string>()
  let result
  try {
    result = await esbuild.build({
      entryPoints: [entry.entry],
      absWorkingDir: rootDir,
      nodePaths,
      bundle: true,
      write: false,
      // Code splitting: what a handler loads with import() (the twilio SDK, the SES client)
      // goes into its own chunk, compiled only when first used. Compiling one 4.5 MB file
      // cost ~400 ms of every cold start, most of it for SDK code an invocation may never run.
      // Chunk names carry a content hash, so the zip stays deterministic.
      splitting: true,
      outdir: join(rootDir, '.lambda-bundle', entry.name),
      entryNames: 'index',
      chunkNames: 'chunks/[name]-[hash]',
      outExtension: {'.js': '.mjs'},
      platform: 'node',
      target: 'node22',
      format: 'esm',
      minify: true,
      treeShaking: true,
      sourcemap: false,
      legalComments: 'eof',
      metafile: true,
      logLevel: 'silent',
      banner: {js: REQUIRE_BANNER},
      external: [...OPTIONAL_NATIVE_MODULES],
      plugins: [nativeModulePlugin(nativeExternals)],
    })
  } catch (error) {
    const messages = (error as {errors?: {text: string; location?: {file: string; line: number} | null}[]}).errors
    const text = messages?.length
      ? messages.map((message) => (message.location ? `${message.location.file}:${message.location.line}: ${message.text}` : message.text)).join('; ')
      : (error as Error).message
    throw new EngageError(`Bundling ${entry.name} failed: ${text}`, {code: 'LAMBDA_BUNDLE_FAILED', cause: error})
  }

  assertNoNativeModules(entry.name, result.metafile, nativeExternals)
  const outdir = join(rootDir, '.lambda-bundle', entry.name)
  const files = (result.outputFiles ?? []).map((file) => ({name: relative(outdir, file.path).split('\\').join('/'), data: file.contents}))
  if (!files.some((file) => file.name === 'index.mjs')) throw new EngageError(`Bundling ${entry.name} produced no index.mjs`, {code: 'LAMBDA_BUNDLE_FAILED'})
  files.sort((a, b) => (a.name === 'index.mjs' ? -1 : b.name === 'index.mjs' ? 1 : a.name < b.name ? -1 : 1))
  return {name: entry.name, files}
}

/**
 * Marks native addons external (esbuild cannot bundle them anyway) and
 * remembers them, so the metafile check below can tell a native import that
 * survived tree-shaking from an ordinary external.
 */
function nativeModulePlugin(nativeExternals: Map<string, string>): Plugin {
  const nativeByPackageDir = new Map<string, boolean>()
  const builtins = new Set(builtinModules)
  return {
    name: 'engage-native-modules',
    setup(build) {
      build.onResolve({filter: /\.node$/}, (args) => {
        nativeExternals.set(args.path, 'a compiled .node addon')
        return {path: args.path, external: true}
      })
      build.onResolve({filter: /^[^./]/}, async (args) => {
        if (args.pluginData?.engageNativeCheck || args.path.startsWith('node:') || builtins.has(args.path.split('/')[0] ?? '')) return undefined
        if ((OPTIONAL_NATIVE_MODULES as readonly string[]).includes(args.path)) return undefined
        const resolved = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: {engageNativeCheck: true},
        })
        if (resolved.errors.length > 0 || !resolved.path) return undefined
        const packageDir = packageDirOf(resolved.path)
        if (!packageDir) return undefined
        let native = nativeByPackageDir.get(packageDir)
        if (native === undefined) {
          native = isNativePackage(packageDir)
          nativeByPackageDir.set(packageDir, native)
        }
        if (!native) return undefined
        nativeExternals.set(args.path, `a native package: ${packageDir.slice(packageDir.lastIndexOf('/node_modules/') + 1)} is compiled with node-gyp`)
        return {path: args.path, external: true}
      })
    },
  }
}

function assertNoNativeModules(name: string, metafile: Metafile | undefined, nativeExternals: Map<string, string>): void {
  if (!metafile || nativeExternals.size === 0) return
  const offenders: {module: string; why: string; importedBy: string[]}[] = []
  for (const output of Object.values(metafile.outputs)) {
    const included = new Set(Object.entries(output.inputs).filter(([, input]) => input.bytesInOutput > 0).map(([path]) => path))
    for (const imported of output.imports) {
      const why = nativeExternals.get(imported.path)
      if (!imported.external || why === undefined || offenders.some((offender) => offender.module === imported.path)) continue
      const importedBy = Object.entries(metafile.inputs)
        .filter(([path, input]) => included.has(path) && input.imports.some((candidate) => candidate.path === imported.path && candidate.external))
        .map(([path]) => path)
      offenders.push({module: imported.path, why, importedBy})
    }
  }
  if (offenders.length === 0) return
  const described = offenders.map((offender) => `"${offender.module}" (${offender.why}${offender.importedBy.length ? `, imported by ${offender.importedBy.join(', ')}` : ''})`)
  throw new NativeModuleError(`${name}: native module ${described.join(' and ')} would enter the Lambda bundle`, {bundle: name, modules: offenders})
}

function packageDirOf(file: string): string | undefined {
  const marker = '/node_modules/'
  const index = file.lastIndexOf(marker)
  if (index === -1) return undefined
  const rest = file.slice(index + marker.length).split('/')
  const depth = rest[0]?.startsWith('@') ? 2 : 1
  return file.slice(0, index + marker.length) + rest.slice(0, depth).join('/')
}

function isNativePackage(packageDir: string): boolean {
  if (existsSync(join(packageDir, 'binding.gyp'))) return true
  try {
    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {gypfile?: boolean}
    return manifest.gypfile === true
  } catch {
    return false
  }
}
