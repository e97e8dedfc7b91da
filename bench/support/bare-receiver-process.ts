/**
 * A bare callback receiver (bare-receiver.ts) alone in a child process,
 * driven over IPC by startBareReceiverProcess: it announces {port}, answers
 * each {expect: n} with {armed: true} at once (counting starts before any
 * send) and {callbacks} once n messages were delivered, and exits on
 * {close: true}.
 */
import {startBareReceiver} from './bare-receiver.js'

const receiver = await startBareReceiver()
process.on('message', (command: {expect?: number; close?: boolean}) => {
  if (command.close) void receiver.close().then(() => process.exit(0))
  else if (command.expect !== undefined) {
    void receiver.expect(command.expect).then(({delivered}) => {
      process.send!({armed: true})
      return delivered.then((result) => process.send!(result))
    })
  }
})
process.send!({port: receiver.port})
