/**
 * The storage contract the core packages program against: tables of JSON records keyed by
 * `id`, read one at a time or listed, and written in atomic batches. @tether/store implements
 * it on LevelDB; the core packages never import the store itself.
 */

/** A schema: table name -> record type. */
export type Schema = Record<string, { id: string }>;

/** One write in an atomic batch. */
export type Op<S extends Schema> =
  | { [T in keyof S & string]: { table: T; type: "put"; value: S[T] } }[keyof S & string]
  | { table: keyof S & string; type: "del"; key: string };

export interface Repository<S extends Schema> {
  get<T extends keyof S & string>(table: T, id: string): Promise<S[T] | undefined>;
  list<T extends keyof S & string>(table: T): Promise<S[T][]>;
  /**
   * Atomic. Durable (fsynced) before it resolves unless `sync: false`, which still survives a
   * process crash but may be lost in an OS crash or power loss.
   */
  batch(ops: readonly Op<S>[], options?: { sync?: boolean }): Promise<void>;
}
