/**
 * The shipped Lambda zips: each one's size, and how long a fresh node
 * process takes to import its handler, beside `node -e 0` measured in the
 * same run (interleaved, so machine noise hits both alike). Targets from
 * issue 5: every zip under 1 MB; import under 150 ms more than `node -e 0`.
 *
 * "import" loads index.mjs as Lambda does at cold start. "+chunks" also
 * compiles the chunks index.mjs loads on demand (the twilio SDK, the SES
 * client): the most the first invocation can add on top.
 *
 *   node --import tsx bench/lambda.ts [runs]     (default 21 runs; at least 15)
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {buildAllLambdas} from '../src/lambda/build-all.js'
import {median} from './support/median.js'

const RUNS = Math.max(15, Number(process.argv[2]) || 21)
const ZIP_TARGET_BYTES = 1024 * 1024
const IMPORT_TARGET_MS = 150

const ms = (value: number) => `${value.toFixed(1)} ms`

/** Wall time of one fresh node process running `args`, in `cwd`, with nothing but PATH in its environment. */
function timeNode(args: string[], cwd: string): number {
  const started = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, {cwd, env: {PATH: process.env.PATH ?? ''}, stdio: ['ignore', 'ignore', 'pipe']})
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed in ${cwd}: ${result.stderr.toString().slice(0, 500)}`)
  return elapsed
}

const work = mkdtempSync(join(tmpdir(), 'engage-bench-lambda-'))
try {
  const built = process.hrtime.bigint()
  const {bundles} = await buildAllLambdas({outDir: join(work, 'zips')})
  process.stderr.write(`Built ${bundles.length} zips in ${ms(Number(process.hrtime.bigint() - built) / 1e6)}; timing ${RUNS} runs each, interleaved…\n`)

  // Unpacked outside the repository, so only what the zip holds can load.
  const unpacked = bundles.map((bundle) => {
    const dir = join(work, 'run', bundle.name)
    mkdirSync(dir, {recursive: true})
    const unzip = spawnSync('unzip', ['-q', bundle.zipPath, '-d', dir])
    if (unzip.status !== 0) throw new Error(`unzip ${bundle.zipPath} failed (is unzip installed?)`)
    const index = pathToFileURL(join(dir, 'index.mjs')).href
    const chunks = bundle.files.filter((file) => file !== 'index.mjs').map((file) => pathToFileURL(join(dir, file)).href)
    return {
      bundle,
      dir,
      importOnly: ['--input-type=module', '-e', `await import(${JSON.stringify(index)})`],
      withChunks: ['--input-type=module', '-e', `await import(${JSON.stringify(index)}); for (const c of ${JSON.stringify(chunks)}) await import(c)`],
      times: {importOnly: [] as number[], withChunks: [] as number[]},
    }
  })

  const baseline: number[] = []
  for (let run = 0; run < RUNS; run++) {
    baseline.push(timeNode(['-e', '0'], work))
    for (const item of unpacked) {
      item.times.importOnly.push(timeNode(item.importOnly, item.dir))
      item.times.withChunks.push(timeNode(item.withChunks, item.dir))
    }
  }

  const base = median(baseline)
  const lines = [
    `node ${process.version}, ${RUNS} runs, medians`,
    `node -e 0: ${ms(base)}`,
    '',
    ['bundle'.padEnd(24), 'zip bytes'.padStart(10), 'zip KB'.padStart(8), 'files'.padStart(6), 'import'.padStart(10), 'Δ node -e 0'.padStart(12), '+chunks'.padStart(10), 'Δ node -e 0'.padStart(12), '  targets'].join(' '),
  ]
  let failed = false
  for (const item of unpacked) {
    const importOnly = median(item.times.importOnly)
    const withChunks = median(item.times.withChunks)
    const sizeOk = item.bundle.bytes < ZIP_TARGET_BYTES
    const importOk = importOnly - base < IMPORT_TARGET_MS
    failed ||= !sizeOk || !importOk
    lines.push(
      [
        item.bundle.name.padEnd(24),
        String(item.bundle.bytes).padStart(10),
        (item.bundle.bytes / 1024).toFixed(1).padStart(8),
        String(item.bundle.files.length).padStart(6),
        ms(importOnly).padStart(10),
        `+${ms(importOnly - base)}`.padStart(12),
        ms(withChunks).padStart(10),
        `+${ms(withChunks - base)}`.padStart(12),
        `  zip < 1 MB ${sizeOk ? 'ok' : 'MISSED'}, import < +${IMPORT_TARGET_MS} ms ${importOk ? 'ok' : 'MISSED'}`,
      ].join(' '),
    )
  }
  process.stdout.write(`${lines.join('\n')}\n`)
  if (failed) process.exitCode = 1
} finally {
  rmSync(work, {recursive: true, force: true})
}
