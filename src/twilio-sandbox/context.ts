import type {CallbackDispatcher} from './callbacks.js'
import type {FaultInjector} from './faults.js'
import type {SandboxStore} from './state/store.js'

/** The parts of a running sandbox that routes work on. */
export interface SandboxContext {
  store: SandboxStore
  faults: FaultInjector
  callbacks: CallbackDispatcher
}
