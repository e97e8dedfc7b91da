import {describe, expect, it} from 'vitest'
import {Plan} from '../../../src/channel-settings/consolidation/select-live-rows.js'

/** loadPlan's shape: id, live, tenant exists, settings id, flat, in id order. */
const planOf = (...rows: [number, number, number, number | null][]) => JSON.stringify(rows.flat())

describe('the consolidation plan (Plan.parse)', () => {
  const plan = Plan.parse(
    planOf(
      [-5, 1, 1, null], // live, no settings row: creates one, first in id order
      [0, 1, 1, 12], // live, settings row 12 exists
      [3, 0, 1, null], // superseded: creates nothing
      [7, 1, 0, null], // orphaned: creates nothing
      [9, 1, 1, null], // creates the second one
    ),
    100,
  )

  it('numbers the settings rows it creates from the first id on, in legacy id order', () => {
    const settings = [-5, 0, 9].map((id) => {
      const at = plan.indexOf(id)
      return [plan.settingsId(at), plan.createsSettings(at)]
    })
    expect(settings).toEqual([
      [100, true],
      [12, false],
      [101, true],
    ])
  })

  it('finds rows looked up out of order, and says when it does not know one', () => {
    expect([9, -5, 7, 3, 0].map((id) => plan.indexOf(id))).toEqual([4, 0, 3, 2, 1])
    expect(plan.indexOf(4)).toBe(-1)
    expect(plan.indexOf(10)).toBe(-1)
    const at = plan.indexOf(7)
    expect([plan.isLive(at), plan.tenantExists(at), plan.createsSettings(at)]).toEqual([true, false, false])
  })

  it('refuses a plan out of id order or of the wrong shape rather than misreading it', () => {
    expect(() => Plan.parse(planOf([2, 1, 1, null], [1, 1, 1, null]), 1)).toThrow(/not in legacy id order/)
    expect(() => Plan.parse(planOf([1, 1, 1, null], [1, 0, 1, null]), 1)).toThrow(/not in legacy id order/)
    expect(() => Plan.parse('[1, 1, 1]', 1)).toThrow(/not a list/)
    expect(() => Plan.parse(JSON.stringify([[1, 1, 1, null], [2, 1, 1, null], [3, 0, 1, null], [4, 0, 1, null]]), 1)).toThrow(/not a list/)
  })

  it('takes an empty plan', () => {
    expect(Plan.parse('[]', 1).indexOf(1)).toBe(-1)
  })
})
