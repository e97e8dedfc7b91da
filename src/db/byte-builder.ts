/**
 * Bytes appended a value at a time, in memory outside the JavaScript heap
 * that grows by doubling. What a bulk write binds (pg-binary-array.ts,
 * sqlite-jsonb.ts) is built this way as each row is computed, so no row's
 * values have to be kept in JavaScript objects until the last row is: kept
 * objects are what a young-generation collection copies, every time it runs.
 */
export class ByteBuilder {
  private buffer: Buffer
  private at = 0

  constructor(capacity = 1 << 16) {
    this.buffer = Buffer.allocUnsafeSlow(capacity)
  }

  /** How many bytes are written. */
  get length(): number {
    return this.at
  }

  /** Appends a 32-bit big-endian integer. */
  int32(value: number): void {
    this.at = this.room(4).writeInt32BE(value, this.at)
  }

  /** Overwrites the 32-bit big-endian integer at `offset` (a length known only once what follows it is written). */
  int32At(offset: number, value: number): void {
    this.buffer.writeInt32BE(value, offset)
  }

  /** Appends one byte. */
  byte(value: number): void {
    this.room(1)[this.at++] = value
  }

  /** Appends `value` as UTF-8, or as Latin-1 (ASCII, say, which is both); returns the bytes written. */
  text(value: string, encoding: 'utf8' | 'latin1' = 'utf8'): number {
    const written = this.room(encoding === 'utf8' ? value.length * 3 : value.length).write(value, this.at, encoding)
    this.at += written
    return written
  }

  /** Appends `bytes`. */
  append(bytes: Uint8Array): void {
    this.room(bytes.length).set(bytes, this.at)
    this.at += bytes.length
  }

  /**
   * The bytes written, in a buffer of exactly their size: a typed array
   * posted to another thread carries its whole underlying buffer. A builder
   * whose buffer is exactly full hands that buffer over rather than a copy
   * (an append after this grows into a new buffer, so it stays as it is).
   */
  bytes(): Buffer {
    if (this.at === this.buffer.length) return this.buffer
    const out = Buffer.allocUnsafeSlow(this.at)
    this.buffer.copy(out, 0, 0, this.at)
    return out
  }

  /** The bytes written, without a copy: valid until the next append. */
  view(): Uint8Array {
    return this.buffer.subarray(0, this.at)
  }

  /** The bytes written, read as UTF-8 text. */
  utf8(): string {
    return this.buffer.toString('utf8', 0, this.at)
  }

  private room(bytes: number): Buffer {
    if (this.at + bytes > this.buffer.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(this.buffer.length * 2, this.at + bytes))
      this.buffer.copy(grown, 0, 0, this.at)
      this.buffer = grown
    }
    return this.buffer
  }
}
