/**
 * Runs `work` over every item with at most `limit` in flight, and returns the
 * results in item order. `work` must not reject: the batch processor turns
 * each record's failure into a value, so one record cannot abort the others.
 */
export async function mapWithLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const lanes = Array.from({length: Math.max(1, Math.min(limit, items.length))}, async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index]!, index)
    }
  })
  await Promise.all(lanes)
  return results
}
