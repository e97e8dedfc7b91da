/**
 * Resolves with the first SIGINT or SIGTERM, for long-running commands
 * (`serve`, `sandbox twilio`) that stop cleanly on either: taking the signal
 * here replaces Node's default exit, so the command can close its servers.
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      resolve(signal)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}
