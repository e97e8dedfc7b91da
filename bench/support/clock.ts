import {performance} from 'node:perf_hooks'

/**
 * Wall time and this process's CPU time (user + system) since start. On a
 * shared machine wall time swings with other people's load; CPU per message
 * moves much less, so the two together say whether a change helped.
 */
export interface Clock {
  elapsed(): {seconds: number; cpuSeconds: number; loopBusy: number}
}

/** Also the event loop's utilisation (0-1): near 1, the one thread everything here runs on is the limit. */
export function startClock(): Clock {
  const wall = process.hrtime.bigint()
  const cpu = process.cpuUsage()
  const loop = performance.eventLoopUtilization()
  return {
    elapsed() {
      const used = process.cpuUsage(cpu)
      return {
        seconds: Number(process.hrtime.bigint() - wall) / 1e9,
        cpuSeconds: (used.user + used.system) / 1e6,
        loopBusy: performance.eventLoopUtilization(loop).utilization,
      }
    },
  }
}
