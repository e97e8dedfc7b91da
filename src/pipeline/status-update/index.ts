/** UpdateMessageStatus: mock lifecycle and reconciliation of stale statuses. */
export {runStatusUpdate, DEFAULT_STALE_AFTER_MS, DEFAULT_TICK_LIMIT, type StatusUpdateDeps, type StatusUpdateResult} from './run-status-update.js'
export {advanceMockMessages, mockChannels, nextMockStatus, type MockChannel} from './mock-advance.js'
export {reconcileStaleMessages, RECONCILED_STATUSES, type ReconcileResult} from './reconcile.js'
