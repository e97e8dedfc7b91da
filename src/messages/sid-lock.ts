import {sql, type Kysely} from 'kysely'

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * Serialises, per provider message id, the two writers that race over it:
 * the webhook deciding "no message has this SID yet, keep the callback" and
 * the sender storing the SID and applying kept callbacks. Without it, on
 * PostgreSQL's READ COMMITTED each could miss the other's uncommitted row and
 * a callback would be kept forever. PostgreSQL: a transaction-scoped advisory
 * lock on the SID's hash (held until the caller's transaction ends); SQLite:
 * nothing to do, its write transactions (BEGIN IMMEDIATE) are serial already.
 */
export async function lockProviderMessageId(db: Kysely<any>, providerMessageId: string): Promise<void> {
  // Only PostgreSQL's adapter has transactional DDL: a dialect check that survives minification.
  if (!db.getExecutor().adapter.supportsTransactionalDdl) return
  await sql`SELECT pg_advisory_xact_lock(hashtext(${providerMessageId}))`.execute(db)
}
