import {describe, expect, it} from 'vitest'
import type {MessageStatusPayload} from '../../../src/backend-status/status-payload.js'
import {StatusEventHub, type StatusEvent} from '../../../src/serve/status-events.js'

let nextEventId = 1
function payload(tenantId: string, campaignId: string | null = null): MessageStatusPayload {
  return {
    type: 'message.status',
    data: {
      eventId: nextEventId++,
      messageId: `msg-${nextEventId}`,
      tenantId,
      campaignId,
      channel: 'sms',
      status: 'sent',
      providerStatus: 'sent',
      statusReason: null,
      providerMessageId: null,
      occurredAt: new Date().toISOString(),
    },
  }
}

describe('StatusEventHub', () => {
  it('numbers events in order and delivers them to matching subscribers only', () => {
    const hub = new StatusEventHub()
    const all: StatusEvent[] = []
    const tenantA: StatusEvent[] = []
    const campaignX: StatusEvent[] = []
    hub.subscribe({}, (event) => all.push(event) > 0)
    hub.subscribe({tenant: 'a'}, (event) => tenantA.push(event) > 0)
    hub.subscribe({tenant: 'a', campaign: 'x'}, (event) => campaignX.push(event) > 0)

    hub.publish(payload('a', 'x'))
    hub.publish(payload('b', 'x'))
    hub.publish(payload('a', 'y'))

    expect(all.map((event) => event.id)).toEqual([1, 2, 3])
    expect(tenantA.map((event) => event.id)).toEqual([1, 3])
    expect(campaignX.map((event) => event.id)).toEqual([1])
    expect(hub.metrics()).toMatchObject({received: 3, emitted: 6, dropped: 0, subscribers: 3, lastEventId: 3})
  })

  it('replays exactly the buffered events after Last-Event-ID, filtered', () => {
    const hub = new StatusEventHub({bufferSize: 10})
    for (let i = 0; i < 6; i++) hub.publish(payload(i % 2 === 0 ? 'a' : 'b'))

    const resumed = hub.subscribe({tenant: 'a'}, () => true, {lastEventId: 2})

    expect(resumed.replay.map((event) => event.id)).toEqual([3, 5])
    expect(resumed.gap).toBe(false)
  })

  it('reports a gap when missed events were already evicted from the ring', () => {
    const hub = new StatusEventHub({bufferSize: 3})
    for (let i = 0; i < 8; i++) hub.publish(payload('a'))

    const late = hub.subscribe({}, () => true, {lastEventId: 2})
    const inTime = hub.subscribe({}, () => true, {lastEventId: 5})
    const fromBeforeRestart = hub.subscribe({}, () => true, {lastEventId: 99})

    expect(late.replay.map((event) => event.id)).toEqual([6, 7, 8])
    expect(late.gap).toBe(true)
    expect(inTime.gap).toBe(false)
    expect(inTime.replay.map((event) => event.id)).toEqual([6, 7, 8])
    expect(fromBeforeRestart.gap).toBe(true)
    expect(fromBeforeRestart.replay).toHaveLength(3)
  })

  it('counts a refused delivery as dropped without holding up the other subscribers', () => {
    const hub = new StatusEventHub()
    const fast: number[] = []
    hub.subscribe({}, () => false)
    hub.subscribe({}, () => {
      throw new Error('broken sink')
    })
    hub.subscribe({}, (event) => fast.push(event.id) > 0)

    hub.publish(payload('a'))
    hub.publish(payload('a'))

    expect(fast).toEqual([1, 2])
    expect(hub.metrics()).toMatchObject({received: 2, emitted: 2, dropped: 4})
  })

  it('stops delivering after unsubscribe', () => {
    const hub = new StatusEventHub()
    const seen: number[] = []
    const subscription = hub.subscribe({}, (event) => seen.push(event.id) > 0)
    hub.publish(payload('a'))
    subscription.unsubscribe()
    hub.publish(payload('a'))
    expect(seen).toEqual([1])
    expect(hub.metrics().subscribers).toBe(0)
  })
})
