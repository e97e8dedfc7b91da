/**
 * A process-wide signal that a status was just applied. Code that writes
 * applied status events (the Twilio webhook, the send handler, reconcile)
 * calls {@link notifyStatusApplied} after its transaction commits; every
 * status forwarder loop running in the same process runs a round at once
 * instead of waiting for its interval. Without a loop in the process the call
 * does nothing, and the event still waits in the database for the next one.
 */
type Listener = () => void

const listeners = new Set<Listener>()

export function notifyStatusApplied(): void {
  for (const listener of listeners) listener()
}

/** Returns the function that removes the listener. */
export function onStatusApplied(listener: Listener): () => void {
  listeners.add(listener)
  return () => {
    listeners.delete(listener)
  }
}
