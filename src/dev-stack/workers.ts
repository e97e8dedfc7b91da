import {notifyStatusApplied} from '../backend-status/status-applied.js'
import type {Logger} from '../cli/logger.js'
import type {Keyring} from '../crypto/encryption-key.js'
import type {Database} from '../db/database.js'
import {createSendCampaignMessageProcessor} from '../pipeline/send/index.js'
import {openMessageQueue} from '../queue/select-queue.js'
import {runWorker, type WorkerSummary} from '../worker/worker-loop.js'

export interface DevWorkers {
  /** Resolves with each loop's summary once both stopped. */
  stop(): Promise<Record<'local' | 'sqs', WorkerSummary | undefined>>
}

/**
 * Two consumers of the same SendCampaignMessage processor: one over the
 * local queue in the database (what `engage worker` does before cutover) and
 * one over SQS on the emulator (what the Lambda does after). Both always
 * run, so whichever path USE_AWS_QUEUE selects is consumed, and a message
 * already in the other queue is still sent (once: the processor claims
 * before it sends). Applied statuses kick the forwarder in this process.
 */
export async function startDevWorkers(input: {database: Database; keyring: Keyring; get: (name: string) => string | undefined; logger: Logger}): Promise<DevWorkers> {
  const controller = new AbortController()
  const handler = createSendCampaignMessageProcessor({database: input.database, keyring: input.keyring, get: input.get, logger: input.logger, onApplied: () => notifyStatusApplied()})
  const forced = (value: string) => ({get: (name: string) => (name === 'USE_AWS_QUEUE' ? value : input.get(name))})
  const local = await openMessageQueue(input.database, forced('false'))
  const sqs = await openMessageQueue(input.database, forced('true'))
  const run = (opened: typeof local) =>
    runWorker({queue: opened.queue, source: opened.source, handler, signal: controller.signal, logger: input.logger, waitSeconds: 1, idleDelayMs: 100}).catch((error: unknown) => {
      input.logger.error(`Dev worker on the ${opened.display} stopped: ${(error as Error)?.message ?? String(error)}`)
      return undefined
    })
  const loops = {local: run(local), sqs: run(sqs)}
  input.logger.info(`Workers consuming the ${local.display} and the ${sqs.display}.`)
  return {
    async stop() {
      controller.abort()
      return {local: await loops.local, sqs: await loops.sqs}
    },
  }
}
