/**
 * Whether `down` can rebuild a legacy credential value byte for byte from its
 * IV and plaintext, so `up` keeps only the IV (`legacy_iv`) rather than the
 * ciphertext (`legacy_ciphertext`).
 *
 * For a value that decrypted, CBC with PKCS#7 is a bijection under a fixed
 * key and IV: encrypting each block again gives back the same ciphertext
 * block, and OpenSSL accepts only canonical padding (every pad byte equal to
 * the pad length), which encryption re-creates. What encryption cannot
 * re-create is the spelling of the hex: `encryptLegacy` writes lower case. So
 * a lower-case value rebuilds exactly; any other is kept verbatim.
 *
 * The verification relies on this instead of re-encrypting every row: it
 * proves the archived IV is the value's own, that the new envelope decrypts to
 * the plaintext the value decrypted to, and that the value is lower case.
 * test/unit/channel-settings/legacy-bytes.test.ts checks the identity over
 * every padding length.
 *
 * Keeping only the IV means a key rotation after `up` leaves no ciphertext of
 * the live credentials under the retired key in the database.
 */
export function rebuildsFromIv(stored: string): boolean {
  return stored === stored.toLowerCase()
}

/** The IV part of a legacy value ("<32 hex>:<hex>"), as archived in `legacy_iv`. */
export function legacyIvHex(stored: string): string {
  return stored.slice(0, 32)
}
