/**
 * The daemon's health as far as its store goes, and the policy for a failed write: after the
 * store's first failed write, memory and disk may disagree, so the daemon fails closed. Every
 * call on every service (Pairing, Node, Orchestrator, Admin) is refused with UNAVAILABLE
 * (STORE_FAILED) by one server interceptor, open streams are ended the same way, and only
 * Admin.Status still answers, so `tether status` can say why, with the health and reflection
 * services (probes.ts), so that a probe hears NOT_SERVING rather than UNAVAILABLE. It stays so until restarted: a
 * restart reloads the truth from disk (docs/operations.md).
 */
import { Metadata, ServerInterceptingCall } from "@grpc/grpc-js";
import type { ServerInterceptor } from "@grpc/grpc-js";
import { STORE_FAILED } from "./errors.js";

/** The call that still answers while the store has failed. */
const STATUS_PATH = "/tether.v1.Admin/Status";
/** What else does: health (NOT_SERVING) and reflection, which touch no store (probes.ts). */
const PROBE_PATH_PREFIXES = ["/grpc.health.v1.Health/", "/grpc.reflection.v1.ServerReflection/", "/grpc.reflection.v1alpha.ServerReflection/"] as const;

/** Whether a call still answers while the store has failed. */
export function answersWhenFailed(path: string): boolean {
  return path === STATUS_PATH || PROBE_PATH_PREFIXES.some((p) => path.startsWith(p));
}

export type StoreState = {
  /** "ok"; "failed" (a write failed: every call is refused); "damaged" (a read found a damaged record) */
  state: "ok" | "failed" | "damaged";
  /** what failed or was found damaged */
  error: string;
  /** when it failed (ms; 0 otherwise) */
  since: number;
};

export class StoreHealth {
  readonly #store: { readonly corruptReads: number };
  readonly #now: () => number;
  #failed: { at: number; error: Error } | undefined;

  constructor(store: { readonly corruptReads: number; onFailure(fn: (err: Error) => void): void }, now: () => number) {
    this.#store = store;
    this.#now = now;
    store.onFailure((error) => {
      this.#failed = { at: this.#now(), error };
    });
  }

  get failed(): boolean {
    return this.#failed !== undefined;
  }

  view(): StoreState {
    if (this.#failed) return { state: "failed", error: this.#failed.error.message, since: this.#failed.at };
    const n = this.#store.corruptReads;
    if (n === 0) return { state: "ok", error: "", since: 0 };
    return { state: "damaged", error: `${n} read(s) found a damaged record (those calls got DATA_LOSS); stop the daemon and run \`tether store check\``, since: 0 };
  }

  /** Refuses every call but Admin.Status, health and reflection once the store has failed (while healthy, it adds nothing to a call). */
  interceptor(): ServerInterceptor {
    return (method, call) => {
      // The call itself, unwrapped (grpc-js only chains interceptors): nothing added to the hot path.
      if (!this.#failed || answersWhenFailed(method.path)) return call as ServerInterceptingCall;
      return new ServerInterceptingCall(call, {
        start: (next) => next({ onReceiveMetadata: () => call.sendStatus({ ...STORE_FAILED, metadata: new Metadata() }) }),
      });
    };
  }
}
