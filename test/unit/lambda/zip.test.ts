import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {writeDeterministicZip} from '../../../src/lambda/zip.js'

const entries = [
  {name: 'index.mjs', data: Buffer.from('export const handler = () => 1\n'.repeat(50))},
  {name: 'lib/data.json', data: Buffer.from('{"ü": "ünïcode"}')},
  {name: 'empty.txt', data: Buffer.alloc(0)},
]

describe('writeDeterministicZip', () => {
  it('gives the same bytes whatever the entry order', () => {
    expect(writeDeterministicZip([...entries].reverse()).equals(writeDeterministicZip(entries))).toBe(true)
  })

  it('writes an archive Python\'s zipfile reads back exactly, sorted, dated 1980-01-01, mode 0644', () => {
    const dir = mkdtempSync(join(tmpdir(), 'engage-zip-'))
    try {
      const path = join(dir, 'a.zip')
      writeFileSync(path, writeDeterministicZip(entries))
      const script = [
        'import json, sys, zipfile',
        'z = zipfile.ZipFile(sys.argv[1])',
        'assert z.testzip() is None',
        'print(json.dumps([[i.filename, list(i.date_time), oct(i.external_attr >> 16), z.read(i).decode()] for i in z.infolist()]))',
      ].join('\n')
      const listed = JSON.parse(execFileSync('python3', ['-c', script, path], {encoding: 'utf8'})) as [string, number[], string, string][]

      expect(listed.map(([name]) => name)).toEqual(['empty.txt', 'index.mjs', 'lib/data.json'])
      for (const [name, date, mode, content] of listed) {
        expect(date).toEqual([1980, 1, 1, 0, 0, 0])
        expect(mode).toBe('0o100644')
        expect(content).toBe(entries.find((entry) => entry.name === name)!.data.toString())
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it.each(['/abs.js', '../up.js', 'a\\b.js', ''])('refuses the entry name %j', (name) => {
    expect(() => writeDeterministicZip([{name, data: Buffer.from('x')}])).toThrow(/Invalid zip entry name/)
  })

  it('refuses duplicate names', () => {
    expect(() => writeDeterministicZip([entries[0]!, entries[0]!])).toThrow(/Duplicate zip entry: index.mjs/)
  })
})
