/** One column as the copy sees it: its name and the type its database declares. */
export interface ColumnShape {
  name: string
  /** Declared type, lower case (SQLite: as written in CREATE TABLE; PostgreSQL: information_schema data_type). */
  type: string
  /** PostgreSQL text columns: true when the column's collation sorts by bytes (C, POSIX, C.UTF-8), as SQLite's BINARY does. */
  byteOrdered?: boolean
}

/** One table of a database, described from that database's own catalog. */
export interface TableShape {
  name: string
  /** In the table's column order. */
  columns: ColumnShape[]
  /** Primary key columns in key order; empty when the table has none. */
  primaryKey: string[]
  /** Tables this one references through foreign keys (itself excluded). */
  references: string[]
}

/** What the copy does with one table: the columns both sides share and how rows are paged and ordered. */
export interface TablePlan {
  table: string
  /** Column names, in the target's order. */
  columns: string[]
  /** Target column types by name (integer columns may own a sequence). */
  targetTypes: Record<string, string>
  /** Order columns that PostgreSQL must sort with COLLATE "C" to match SQLite's byte order (text not already byte-ordered). */
  collateC: string[]
  /**
   * Columns the source is paged by (keyset). The primary key; a table without
   * one is paged by SQLite's rowid, which is not copied.
   */
  sourceKey: string[] | 'rowid'
  /** Columns both sides are ordered by for the checksum: the primary key, else every column. */
  orderColumns: string[]
}

/** The row count and checksum of one table on one side. */
export interface TableDigest {
  rows: number
  /** SHA-256 (hex) of the table's rows in key order, each serialised canonically. */
  checksum: string
}
