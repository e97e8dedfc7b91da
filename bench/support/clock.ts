import {performance} from 'node:perf_hooks'
import {processCpuSeconds} from './child-processes.js'

/**
 * Wall time and CPU time (user + system) since start. On a shared machine
 * wall time swings with other people's load; CPU per message moves much
 * less, so the two together say whether a change helped.
 */
export interface Clock {
  elapsed(): Elapsed
}

export interface Elapsed {
  seconds: number
  /** This process's CPU plus every watched child's. */
  cpuSeconds: number
  /** CPU seconds by process: 'bench' for this one, then each watched child by name. */
  cpuByProcess: Record<string, number>
  /** This process's event loop utilisation (0-1). */
  loopBusy: number
}

/**
 * Also the event loop's utilisation (0-1): near 1, the one thread this
 * process runs on is the limit. `children` are processes whose CPU counts
 * too (the parts of the measured work that run apart), read from /proc.
 */
export function startClock(children: ReadonlyArray<{name: string; pid: number}> = []): Clock {
  const wall = process.hrtime.bigint()
  const cpu = process.cpuUsage()
  const loop = performance.eventLoopUtilization()
  const childStart = children.map((child) => processCpuSeconds(child.pid))
  return {
    elapsed() {
      const used = process.cpuUsage(cpu)
      const cpuByProcess: Record<string, number> = {bench: (used.user + used.system) / 1e6}
      children.forEach((child, index) => (cpuByProcess[child.name] = processCpuSeconds(child.pid) - childStart[index]!))
      return {
        seconds: Number(process.hrtime.bigint() - wall) / 1e9,
        cpuSeconds: Object.values(cpuByProcess).reduce((sum, seconds) => sum + seconds, 0),
        cpuByProcess,
        loopBusy: performance.eventLoopUtilization(loop).utilization,
      }
    },
  }
}
