import {describe, expect, it} from 'vitest'
import {parseCallback, type CallbackRequest} from '../../../src/pipeline/twilio-webhook/parse-callback.js'
import {parseTwilioForm} from '../../../src/webhooks/twilio-signature.js'

const SID = 'SM0123456789abcdef0123456789abcdef'
const ACCOUNT = 'AC0123456789abcdef0123456789abcdef'
const REQUIRED = `MessageSid=${SID}&AccountSid=${ACCOUNT}&MessageStatus=delivered`

function request(body: string | Buffer, headers: Record<string, string> = {}): CallbackRequest {
  const all: Record<string, string> = {'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'c2lnbmF0dXJl', ...headers}
  return {method: 'POST', pathAndQuery: '/webhooks/twilio', header: (name) => all[name], body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')}
}

describe('parseCallback', () => {
  it.each([
    ['plain', `${REQUIRED}&To=%2B15551230000`],
    ['+ as a space and escaped +', `${REQUIRED}&Body=hello+world%2B1`],
    ['UTF-8 escapes and raw UTF-8', `${REQUIRED}&Body=caf%C3%A9+%F0%9F%98%80&Raw=ça`],
    ['an empty value', `${REQUIRED}&ErrorMessage=`],
    ['an escaped name', `${REQUIRED}&Error%43ode=30007`],
    ['a name that is an Object.prototype member', `${REQUIRED}&__proto__=x&constructor=y&toString=z`],
    ['an escape that is not UTF-8', `${REQUIRED}&Body=%FF%FE`],
  ])('reads the parameters exactly as URLSearchParams does: %s', (_name, body) => {
    const parsed = parseCallback(request(body))
    const reference = parseTwilioForm(body)

    expect(parsed.ok && reference.ok).toBe(true)
    if (!parsed.ok || !reference.ok) return
    expect(Object.entries(parsed.callback.params)).toEqual(Object.entries(reference.params))
  })

  it.each([
    ['a name twice', `${REQUIRED}&To=1&To=2`, 400, /appears more than once/],
    ['the same name, once escaped', `${REQUIRED}&To=1&%54o=2`, 400, /appears more than once/],
    ['an empty part', `${REQUIRED}&&To=1`, 400, /well-formed/],
    ['a bad escape', `${REQUIRED}&To=%zz`, 400, /well-formed/],
    ['a part without =', `${REQUIRED}&To`, 400, /well-formed/],
    ['two = in a part', `${REQUIRED}&To=a=b`, 400, /well-formed/],
    ['no MessageSid', `AccountSid=${ACCOUNT}&MessageStatus=sent`, 400, /MessageSid/],
  ])('refuses %s', (_name, body, statusCode, error) => {
    const parsed = parseCallback(request(body))

    expect(parsed.ok).toBe(false)
    if (parsed.ok) return
    expect(parsed.statusCode).toBe(statusCode)
    expect(parsed.error).toMatch(error)
  })

  it('refuses a body that is not UTF-8, a missing signature and a JSON body', () => {
    expect(parseCallback(request(Buffer.from([0x41, 0x3d, 0xff])))).toMatchObject({ok: false, statusCode: 400})
    expect(parseCallback(request(REQUIRED, {'x-twilio-signature': ''}))).toMatchObject({ok: false, statusCode: 400})
    expect(parseCallback(request(REQUIRED, {'content-type': 'application/json'}))).toMatchObject({ok: false, statusCode: 415})
  })
})
