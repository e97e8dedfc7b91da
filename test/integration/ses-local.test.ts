import {SESClient, SendEmailCommand} from '@aws-sdk/client-ses'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {startSesLocal, type SesLocalServer} from '../support/ses-local.js'

describe('aws-ses-v2-local', () => {
  let server: SesLocalServer
  let ses: SESClient

  beforeAll(async () => {
    server = await startSesLocal()
    ses = new SESClient(server.clientConfig)
  })

  afterAll(async () => {
    ses?.destroy()
    await server?.stop()
  })

  beforeEach(async () => {
    await server.clear()
  })

  it('stores a V1 SendEmail sent with @aws-sdk/client-ses and lists it on /store', async () => {
    const before = Math.floor(Date.now() / 1000)

    const sent = await ses.send(
      new SendEmailCommand({
        Source: 'campaigns@engage.example.com',
        Destination: {ToAddresses: ['recipient@example.org'], CcAddresses: ['cc@example.org']},
        Message: {
          Subject: {Data: 'Spring sale ☀', Charset: 'UTF-8'},
          Body: {Text: {Data: 'Hello from engage', Charset: 'UTF-8'}, Html: {Data: '<p>Hello from <b>engage</b></p>', Charset: 'UTF-8'}},
        },
      }),
    )

    expect(sent.MessageId).toMatch(/\S+/)
    const emails = await server.emails(before)
    expect(emails).toHaveLength(1)
    expect(emails[0]).toMatchObject({
      messageId: sent.MessageId,
      from: 'campaigns@engage.example.com',
      destination: {to: ['recipient@example.org'], cc: ['cc@example.org'], bcc: []},
      subject: 'Spring sale ☀',
      body: {text: 'Hello from engage', html: '<p>Hello from <b>engage</b></p>'},
    })
  })

  it('answers a request without SigV4 authorization with 403, like SES', async () => {
    const response = await fetch(server.endpoint, {
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded'},
      body: 'Action=SendEmail&Source=a%40example.com',
    })
    expect(response.status).toBe(403)
    expect(await server.emails()).toHaveLength(0)
  })

  it('starts empty after clear()', async () => {
    await ses.send(
      new SendEmailCommand({
        Source: 'campaigns@engage.example.com',
        Destination: {ToAddresses: ['recipient@example.org']},
        Message: {Subject: {Data: 's'}, Body: {Text: {Data: 'b'}}},
      }),
    )
    expect(await server.emails()).toHaveLength(1)
    await server.clear()
    expect(await server.emails()).toHaveLength(0)
  })
})
