/**
 * What daemons on one PostgreSQL database tell each other through it (docs/scaling.md): the
 * `cluster` table's `active` record, which the active daemon writes once it listens (with its
 * writer epoch) and replicas read to know where to forward (replica.ts).
 */
import { hostname } from "node:os";
import { formatHostPort } from "./config.js";

export const CLUSTER_TABLE = "cluster";

/** The active daemon: where replicas reach it, and the writer epoch it holds. */
export type ActiveRecord = { id: "active"; address: string; epoch: number; since: number };
export type ClusterTables = { cluster: ActiveRecord };

/** The address replicas dial: the listener's, with a wildcard host as this machine's name. */
export function clusterAddress(listenHost: string, port: number): string {
  return formatHostPort(listenHost === "0.0.0.0" || listenHost === "::" ? hostname() : listenHost, port);
}
