/**
 * Entry of a consolidation crypto worker (crypto-pool.ts): holds the key,
 * runs the page tasks it is sent in order, and answers each with its result
 * or a failure that carries no input (a JSON or decipher error's message
 * could quote credential bytes).
 */
import {parentPort, workerData} from 'node:worker_threads'
import {EngageError} from '../../errors/engage-error.js'
import {PageCrypto, runPageTask, type PageTask} from './worker-tasks.js'

const {keyId, key} = workerData as {keyId: string; key: Uint8Array}
const pageCrypto = new PageCrypto({id: keyId, key: Buffer.from(key)})
const port = parentPort!

port.on('message', ({id, message}: {id: number; message: PageTask}) => {
  try {
    port.postMessage({id, result: runPageTask(pageCrypto, message)})
  } catch (error) {
    const failure = error instanceof EngageError ? {code: error.code, message: error.message} : {code: 'CONSOLIDATION_WORKER_FAILED', message: `${(error as Error).name ?? 'Error'} in a crypto worker`}
    port.postMessage({id, failure})
  }
})
