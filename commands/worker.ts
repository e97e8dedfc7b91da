import {Flags} from '@oclif/core'
import {BaseCommand} from '../src/cli/base-command.js'
import {HandoverWatcher, type HandoverReport} from '../src/cutover/handover.js'
import {Keyring} from '../src/crypto/encryption-key.js'
import {createSendCampaignMessageProcessor} from '../src/pipeline/send/index.js'
import {openMessageQueue, queueKindFor} from '../src/queue/select-queue.js'
import {MAX_VISIBILITY_TIMEOUT_SECONDS} from '../src/queue/local/local-queue.js'
import {stopOnSignals} from '../src/worker/stop-signals.js'
import {runWorker, type WorkerSummary} from '../src/worker/worker-loop.js'

export default class Worker extends BaseCommand<typeof Worker> {
  static override summary = 'Process queued sends: poll the queue and run SendCampaignMessage on each batch, as the Lambda does in AWS.'
  static override description =
    'Polls the local queue in the database (or SQS when USE_AWS_QUEUE is on), hands SQS-shaped batches to SendCampaignMessage, deletes what succeeded and lets failures come back with backoff. SIGINT/SIGTERM: stop receiving, finish the batches in flight, print a summary, exit 0 (a second signal stops at once). --drain exits once the queue is empty. Logs go to stderr. Cutover: the worker re-reads the USE_AWS_QUEUE flag every few seconds and at each poll; once every tenant is on AWS it reports the hand-over (what it held, what was left locally) — it keeps draining the local queue until it is empty and then idles, because the flag decides where new sends go, never what is already queued.'

  static override flags = {
    drain: Flags.boolean({summary: 'Exit 0 once the queue is empty and nothing is in flight.', default: false}),
    concurrency: Flags.integer({summary: 'Batches processed at once.', default: 1, min: 1, max: 64}),
    'batch-size': Flags.integer({summary: 'Messages per receive and per handler call (1-10).', default: 10, min: 1, max: 10}),
    'visibility-timeout': Flags.integer({
      summary: 'Seconds a received message stays hidden before another receive may take it (default: the queue’s own, 30 s locally).',
      min: 0,
      max: MAX_VISIBILITY_TIMEOUT_SECONDS,
    }),
  }

  async run(): Promise<WorkerSummary & {queue: string; handover?: HandoverReport}> {
    const get = (name: string) => this.settings.get(name)
    queueKindFor({get})
    // The key is needed for every send: a missing or malformed one fails here, before anything is received.
    const keyring = Keyring.fromSettings(get)
    const database = await this.database()
    const visibilityTimeoutSeconds = this.flags['visibility-timeout']
    const opened = await openMessageQueue(database, {get}, {local: visibilityTimeoutSeconds === undefined ? {} : {visibilityTimeoutSeconds}})
    const claimTimeoutMs = Number(get('SEND_CLAIM_TIMEOUT_MS')) || undefined
    const handler = createSendCampaignMessageProcessor({database, keyring, get, logger: this.logger, claimTimeoutMs})

    // Without the environment override, the local worker follows the cutover flag in the database and reports the hand-over.
    // It keeps draining the local queue whatever the flag says: the flag decides where new sends go, not what is already queued.
    const watcher = opened.kind === 'local' && !get('USE_AWS_QUEUE')?.trim() ? new HandoverWatcher({database, queue: opened.queue, logger: this.logger}) : undefined
    await watcher?.start()
    const {controller, dispose} = stopOnSignals({logger: this.logger, onForce: () => process.exit(130)})
    this.logger.info(`Worker polling the ${opened.display}${this.flags.drain ? ' until it is empty' : ''}; Ctrl-C to stop.`)
    let summary: WorkerSummary
    try {
      summary = await runWorker({
        queue: watcher ? watcher.wrap() : opened.queue,
        source: opened.source,
        handler,
        concurrency: this.flags.concurrency,
        batchSize: this.flags['batch-size'],
        visibilityTimeoutSeconds,
        drain: this.flags.drain,
        signal: controller.signal,
        logger: this.logger,
      })
    } finally {
      dispose()
    }
    const handover = watcher?.stop()
    if (!this.jsonEnabled()) {
      this.log(
        `Stopped (${summary.stoppedBy === 'drain' ? 'queue empty' : 'signal'}): ${summary.received} received, ${summary.succeeded} done, ${summary.failed} to retry, ${summary.deleted} deleted${
          summary.deleteFailed > 0 ? `, ${summary.deleteFailed} deletes refused` : ''
        }${summary.released > 0 ? `, ${summary.released} released unprocessed` : ''}.`,
      )
      if (handover && handover.phase !== 'local') {
        this.log(
          `${handover.phase === 'handed-over' ? 'Handed over' : 'Handing over (not finished)'}: ${handover.inFlightAtFlip} in flight and ${handover.queuedAtFlip} queued locally at the flip; ${handover.finishedSinceFlip} finished since.`,
        )
      }
    }
    return {...summary, queue: opened.kind, ...(handover ? {handover} : {})}
  }
}
