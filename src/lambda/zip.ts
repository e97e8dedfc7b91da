import {crc32, deflateRawSync} from 'node:zlib'

/** One file to put in a zip archive. */
export interface ZipEntry {
  /** Path inside the archive, `/`-separated, no leading slash. */
  name: string
  data: Uint8Array
}

// 1980-01-01 00:00:00, the earliest DOS timestamp: every archive gets the same one.
const DOS_TIME = 0
const DOS_DATE = (0 << 9) | (1 << 5) | 1
// Regular file, rw-r--r--, in the high 16 bits as Unix zip tools expect.
const EXTERNAL_ATTRIBUTES = (0o100644 << 16) >>> 0
// Made by: Unix (3), spec 2.0; needed to extract: 2.0 (deflate).
const VERSION_MADE_BY = (3 << 8) | 20
const VERSION_NEEDED = 20
const FLAG_UTF8_NAMES = 0x0800
const METHOD_DEFLATE = 8
const MAX_32 = 0xffffffff

/**
 * Writes a zip archive whose bytes depend only on the entries: names are
 * sorted, timestamps fixed, permissions fixed (0644), no extra fields, no
 * comment, deflate at a fixed level. Two builds of the same sources therefore
 * hash the same, which keeps `source_code_hash` and Terraform plans quiet.
 * Zip64 is not written: Lambda zips are limited to 50 MB anyway.
 */
export function writeDeterministicZip(entries: ZipEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const [index, entry] of sorted.entries()) {
    if (!entry.name || entry.name.startsWith('/') || entry.name.includes('\\') || entry.name.split('/').includes('..')) {
      throw new Error(`Invalid zip entry name: ${entry.name}`)
    }
    if (index > 0 && sorted[index - 1]?.name === entry.name) throw new Error(`Duplicate zip entry: ${entry.name}`)
  }

  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const entry of sorted) {
    const name = Buffer.from(entry.name, 'utf8')
    const compressed = deflateRawSync(entry.data, {level: 9})
    const checksum = crc32(entry.data) >>> 0
    if (entry.data.byteLength > MAX_32 || compressed.byteLength > MAX_32 || offset > MAX_32) throw new Error('Zip entry too large for a non-zip64 archive')

    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(VERSION_NEEDED, 4)
    local.writeUInt16LE(FLAG_UTF8_NAMES, 6)
    local.writeUInt16LE(METHOD_DEFLATE, 8)
    local.writeUInt16LE(DOS_TIME, 10)
    local.writeUInt16LE(DOS_DATE, 12)
    local.writeUInt32LE(checksum, 14)
    local.writeUInt32LE(compressed.byteLength, 18)
    local.writeUInt32LE(entry.data.byteLength, 22)
    local.writeUInt16LE(name.byteLength, 26)
    local.writeUInt16LE(0, 28)
    locals.push(local, name, compressed)

    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(VERSION_MADE_BY, 4)
    central.writeUInt16LE(VERSION_NEEDED, 6)
    central.writeUInt16LE(FLAG_UTF8_NAMES, 8)
    central.writeUInt16LE(METHOD_DEFLATE, 10)
    central.writeUInt16LE(DOS_TIME, 12)
    central.writeUInt16LE(DOS_DATE, 14)
    central.writeUInt32LE(checksum, 16)
    central.writeUInt32LE(compressed.byteLength, 20)
    central.writeUInt32LE(entry.data.byteLength, 24)
    central.writeUInt16LE(name.byteLength, 28)
    // extra length, comment length, disk number start, internal attributes: all 0
    central.writeUInt32LE(EXTERNAL_ATTRIBUTES, 38)
    central.writeUInt32LE(offset, 42)
    centrals.push(central, name)

    offset += local.byteLength + name.byteLength + compressed.byteLength
  }

  const centralSize = centrals.reduce((sum, part) => sum + part.byteLength, 0)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(sorted.length, 8)
  end.writeUInt16LE(sorted.length, 10)
  end.writeUInt32LE(centralSize, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, ...centrals, end])
}
