/** The middle value (the upper one of the two middles for an even count); leaves `values` as it was. */
export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
}
