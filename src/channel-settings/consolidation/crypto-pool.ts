import {createRequire} from 'node:module'
import {availableParallelism} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import type {EncryptionKey} from '../../crypto/encryption-key.js'
import {projectRoot} from '../../config/project-root.js'
import {MigrationError} from '../../errors/engage-error.js'
import type {PageTask} from './worker-tasks.js'

/** More workers than this buys nothing at 100,000 rows: the main thread's database work is then the bound. */
const MAX_WORKERS = 4

interface Pending {
  resolve(value: unknown): void
  reject(error: Error): void
}

/**
 * Where the build puts crypto-worker.ts, linked as an entry of its own
 * (scripts/bundle-commands.mjs): the built CLI runs from linked chunks, so
 * the worker is not beside this module there.
 */
export const BUILT_CRYPTO_WORKER = 'dist/workers/consolidation-crypto.js'

/** The worker's code when running from the TypeScript sources, bundled once per process. */
let sourceWorkerCode: string | undefined

/**
 * The compiled worker in the built CLI. From the TypeScript sources (tsx,
 * vitest), the worker's sources bundled into one script by esbuild (a
 * development dependency, as tsx is), so the worker runs compiled code as it
 * does in the built CLI instead of booting tsx's loader and transforming each
 * module (which cost each worker about a quarter of a second of CPU).
 */
function spawn(keyData: {keyId: string; key: Uint8Array}): Worker {
  const options = {workerData: keyData}
  const code = sourceWorkerScript()
  return code === undefined ? new Worker(join(projectRoot(), BUILT_CRYPTO_WORKER), options) : new Worker(code, {eval: true, ...options})
}

/**
 * From the sources, the worker's script (bundled on first use, about 40 ms);
 * undefined in the built CLI, which starts the compiled file. Benches that
 * time a migration from the sources call it first, as they load the
 * migration's modules first: the built CLI pays neither.
 */
export function sourceWorkerScript(): string | undefined {
  if (!import.meta.url.endsWith('.ts')) return undefined
  if (sourceWorkerCode === undefined) {
    const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild')
    // Only ever from the sources, where the worker's source is beside this one.
    const entry = fileURLToPath(import.meta.url.replace(/crypto-pool\.ts$/, 'crypto-worker.ts'))
    const built = esbuild.buildSync({entryPoints: [entry], bundle: true, platform: 'node', format: 'iife', target: 'node20', packages: 'external', write: false})
    sourceWorkerCode = built.outputFiles[0]!.text
  }
  return sourceWorkerCode
}

function workerFailure(detail: string): MigrationError {
  return new MigrationError(`A consolidation crypto worker stopped (${detail}).`, {code: 'CONSOLIDATION_WORKER_FAILED'})
}

/**
 * Worker threads for the consolidation's cryptography, so it runs beside the
 * database work of the main thread instead of between it. Page `n` always
 * goes to worker `n % size`, which keeps that page's plaintexts from its
 * conversion to its verification; each worker answers in the order it was
 * asked. A worker that dies fails everything pending and everything after.
 */
export class CryptoPool {
  private readonly workers: Worker[]
  private readonly pending: Map<number, Pending>[]
  private readonly broken: (Error | undefined)[]
  private nextId = 0

  constructor(key: EncryptionKey, size: number) {
    const keyData = {keyId: key.id, key: new Uint8Array(key.key)}
    this.workers = []
    this.pending = []
    this.broken = []
    for (let index = 0; index < size; index++) {
      const worker = spawn(keyData)
      const pending = new Map<number, Pending>()
      worker.on('message', ({id, result, failure}: {id: number; result?: unknown; failure?: {code: string; message: string}}) => {
        const waiting = pending.get(id)
        pending.delete(id)
        if (failure) waiting?.reject(new MigrationError(failure.message, {code: failure.code}))
        else waiting?.resolve(result)
      })
      const fail = (error: Error) => {
        this.broken[index] ??= error
        for (const waiting of pending.values()) waiting.reject(error)
        pending.clear()
      }
      worker.on('error', (error) => fail(workerFailure(error.name)))
      worker.on('exit', (code) => fail(workerFailure(`exit code ${code}`)))
      this.workers.push(worker)
      this.pending.push(pending)
      this.broken.push(undefined)
    }
  }

  /**
   * One worker per CPU (at most MAX_WORKERS, and no more than there are
   * pages). The main thread's database work keeps a CPU busy too, but the
   * cryptography is the larger share: on 2 CPUs, two workers measured faster
   * than one, and three no faster than two.
   */
  static sizeFor(pages: number): number {
    return Math.max(1, Math.min(pages, availableParallelism(), MAX_WORKERS))
  }

  /** Sends a page's task to its worker. The promise is marked handled: one left unawaited after a failure is no crash. */
  run<T>(message: PageTask): Promise<T> {
    const index = message.page % this.workers.length
    const broken = this.broken[index]
    const id = this.nextId++
    const result = new Promise<T>((resolve, reject) => {
      if (broken) return reject(broken)
      this.pending[index]!.set(id, {resolve: resolve as (value: unknown) => void, reject})
      this.workers[index]!.postMessage({id, message})
    })
    result.catch(() => {})
    return result
  }

  /** Sends the same task to every worker (`page` is ignored). */
  async broadcast(message: PageTask): Promise<void> {
    await Promise.all(this.workers.map((_, index) => this.run({...message, page: index})))
  }

  async close(): Promise<void> {
    for (let index = 0; index < this.workers.length; index++) this.broken[index] ??= workerFailure('closed')
    await Promise.all(this.workers.map((worker) => worker.terminate()))
  }
}
