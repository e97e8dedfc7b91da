import type {Logger} from '../cli/logger.js'

/**
 * Turns SIGINT and SIGTERM into a graceful stop: the first one aborts the
 * returned controller (the worker stops receiving and finishes what it
 * holds); a second one calls `onForce`, for an operator who will not wait.
 * Call `dispose` once the worker has stopped, to restore default handling.
 */
export function stopOnSignals(options: {logger: Logger; onForce: (signal: NodeJS.Signals) => void; signals?: NodeJS.Signals[]}): {
  controller: AbortController
  dispose: () => void
} {
  const controller = new AbortController()
  const signals = options.signals ?? ['SIGINT', 'SIGTERM']
  const handler = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      options.logger.warn(`${signal} again: stopping now; messages in flight come back after their visibility timeout.`)
      options.onForce(signal)
      return
    }
    options.logger.info(`${signal}: no new receives; finishing the batches in flight (send ${signal} again to stop at once).`)
    controller.abort()
  }
  for (const signal of signals) process.on(signal, handler)
  return {controller, dispose: () => signals.forEach((signal) => process.off(signal, handler))}
}
