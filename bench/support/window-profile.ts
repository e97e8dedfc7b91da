import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {Session} from 'node:inspector/promises'

/**
 * A CPU profile of this process over one timed window only (not start-up,
 * migrations or warm-up, which --cpu-prof would include), written to
 * `dir/name.cpuprofile` for support/cpu-profile-summary.ts. Without `dir`,
 * returns a no-op.
 */
export async function startWindowProfile(dir: string | undefined, name: string): Promise<() => Promise<void>> {
  if (!dir) return async () => {}
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', {interval: 500})
  await session.post('Profiler.start')
  return async () => {
    const {profile} = await session.post('Profiler.stop')
    session.disconnect()
    await writeFile(join(dir, `${name.replace(/[^a-z0-9-]+/gi, '-')}.cpuprofile`), JSON.stringify(profile))
  }
}
