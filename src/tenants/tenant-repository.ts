import {randomUUID} from 'node:crypto'
import type {Kysely} from 'kysely'
import {NotFoundError, UsageError} from '../errors/engage-error.js'

/** A row of `tenants` (legacy table, unchanged by the migrations). */
export interface Tenant {
  id: string
  slug: string
  name: string
  created_at: string
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/

/** Finds a tenant by id or by slug (id first: ids are what the backend stores everywhere). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function findTenant(db: Kysely<any>, slugOrId: string): Promise<Tenant | undefined> {
  const byId = await db.selectFrom('tenants').selectAll().where('id', '=', slugOrId).executeTakeFirst()
  if (byId) return byId as Tenant
  return (await db.selectFrom('tenants').selectAll().where('slug', '=', slugOrId).executeTakeFirst()) as Tenant | undefined
}

/** findTenant, or NotFoundError suggesting --create-tenant where the command offers it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function requireTenant(db: Kysely<any>, slugOrId: string, options: {canCreate?: boolean} = {}): Promise<Tenant> {
  const tenant = await findTenant(db, slugOrId)
  if (!tenant) {
    throw new NotFoundError(`No tenant with slug or id "${slugOrId}".`, {
      code: 'TENANT_NOT_FOUND',
      suggestions: [
        options.canCreate
          ? `Pass --create-tenant --name "…" to create tenant "${slugOrId}", or check the slug.`
          : 'Check the slug or id (`engage settings list` shows the tenants that have settings).',
      ],
      details: {tenant: slugOrId},
    })
  }
  return tenant
}

export function assertTenantSlug(slug: string): string {
  if (!SLUG.test(slug)) {
    throw new UsageError(`"${slug}" is not a valid tenant slug.`, {
      code: 'INVALID_TENANT_SLUG',
      suggestions: ['A slug is 1–64 lowercase letters, digits and hyphens, starting and ending with a letter or digit.'],
    })
  }
  return slug
}

/** Inserts a tenant with a new UUID id; the caller runs it inside its write transaction. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function createTenant(db: Kysely<any>, input: {slug: string; name: string; now?: string}): Promise<Tenant> {
  const tenant: Tenant = {
    id: randomUUID(),
    slug: assertTenantSlug(input.slug),
    name: input.name,
    created_at: input.now ?? new Date().toISOString(),
  }
  await db.insertInto('tenants').values(tenant).execute()
  return tenant
}
