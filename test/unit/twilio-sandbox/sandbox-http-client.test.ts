import {describe, expect, it} from 'vitest'
import {rewriteTwilioUrl} from '../../../src/twilio-sandbox/sandbox-http-client.js'

describe('rewriteTwilioUrl', () => {
  it('keeps path and query and names the original host', () => {
    expect(rewriteTwilioUrl('http://127.0.0.1:4010', 'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=2')).toEqual({
      uri: 'http://127.0.0.1:4010/2010-04-01/Accounts/AC1/Messages.json?PageSize=2',
      forwardedHost: 'api.twilio.com',
    })
    expect(rewriteTwilioUrl('http://127.0.0.1:4010/', 'https://messaging.twilio.com/v1/Services/MG1/PhoneNumbers')).toEqual({
      uri: 'http://127.0.0.1:4010/v1/Services/MG1/PhoneNumbers',
      forwardedHost: 'messaging.twilio.com',
    })
  })

  it('honours a base path and regional hosts', () => {
    expect(rewriteTwilioUrl('http://localhost:9/twilio/', 'https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1.json')).toEqual({
      uri: 'http://localhost:9/twilio/2010-04-01/Accounts/AC1.json',
      forwardedHost: 'api.dublin.ie1.twilio.com',
    })
  })

  it('leaves other hosts alone', () => {
    expect(rewriteTwilioUrl('http://127.0.0.1:4010', 'https://example.com/x')).toEqual({uri: 'https://example.com/x'})
    expect(rewriteTwilioUrl('http://127.0.0.1:4010', 'https://nottwilio.com/x')).toEqual({uri: 'https://nottwilio.com/x'})
  })
})
