/** The message store the sender, the Twilio webhook and UpdateMessageStatus share. */
export * from './status-order.js'
export * from './status-store.js'
export * from './pending-callbacks.js'
export * from './provider-message-ids.js'
export * from './sid-lock.js'
