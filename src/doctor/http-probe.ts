/** POSTs a body and returns the status, or the network error's message; never throws. */
export async function probe(url: string, init: {headers: Record<string, string>; body: string; timeoutMs?: number}): Promise<{status: number; body: string} | {error: string}> {
  try {
    const response = await fetch(url, {method: 'POST', headers: init.headers, body: init.body, signal: AbortSignal.timeout(init.timeoutMs ?? 5000), redirect: 'manual'})
    return {status: response.status, body: (await response.text()).slice(0, 500)}
  } catch (error) {
    const cause = (error as {cause?: {code?: string}}).cause?.code
    return {error: cause ?? (error as Error).message}
  }
}
