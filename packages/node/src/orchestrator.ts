/**
 * A paired orchestrator's mutual-TLS client for the Orchestrator service. It follows the
 * certificate in its state directory: a renewal, by this client or by another process
 * (`tether node renew`, a timer), is picked up at the next call, on a new channel, while calls
 * and streams already open finish on the old one. When the daemon's answer to a call carries
 * `tether-renew-now` (an admin asked for a rotation, docs/fleet.md §5A.4), it renews the
 * certificate in the background.
 */
import { Metadata } from "@grpc/grpc-js";
import type { Client, ServiceError } from "@grpc/grpc-js";
import { DEVICE_CHANNEL_OPTIONS, deviceCredentials, renewHintInterceptor, serviceClient } from "./client.js";
import { NodeError } from "./errors.js";
import type { Renewed } from "./renew.js";
import { renewIfDue } from "./renew.js";
import { credentialsStamp, loadCredentials } from "./state.js";

type Unary = (req: unknown, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => void;
type Watch = NodeJS.ReadableStream & { cancel(): void };
type UnaryMethod = "ListNodes" | "Dispatch" | "Run" | "GetJob" | "CancelJob" | "ListJobs";
type Raw = Client & Record<UnaryMethod, Unary> & { WatchJob(req: unknown, md: Metadata, opts: object): Watch };

export type OrchestratorClient = {
  ListNodes: Unary;
  Dispatch: Unary;
  /** Dispatch and wait for the final job, in one call. */
  Run: Unary;
  GetJob: Unary;
  CancelJob: Unary;
  ListJobs: Unary;
  WatchJob(req: unknown, md?: Metadata, opts?: object): Watch;
  /**
   * The renewal the daemon asked for, while one runs; resolves undefined when none does.
   * Await it before exiting, so that the new certificate is stored.
   * @throws NodeError as renewIfDue (the mark stays, and the next call asks again).
   */
  renewal(): Promise<Renewed | undefined>;
  /** Close every channel (a renewal in progress still finishes). */
  close(): void;
};

type Channel = { client: Raw; calls: number };

/**
 * Open an Orchestrator client with the device credentials in `stateDir`.
 * @throws NodeError STATE_DIR when the directory holds no completed pairing.
 */
export function orchestrator(stateDir: string, daemon?: string): OrchestratorClient {
  const Ctor = serviceClient<Raw>("Orchestrator");
  let current: Channel | undefined;
  let stamp: string | undefined;
  const retired = new Set<Channel>();
  /** counts this client's renewals: a hint on a call that started before the last one is stale */
  let generation = 0;
  let renewing: Promise<Renewed | undefined> | undefined;

  const onHint = (startedAt: number) => {
    if (startedAt !== generation || renewing) return;
    const p = renewIfDue(stateDir, { force: true, ...(daemon ? { daemon } : {}) })
      .then(
        (r) => {
          generation++;
          return r;
        },
        (err: unknown) => {
          if (err instanceof NodeError && err.code === "BUSY") return undefined; // another process is at it
          throw err;
        },
      )
      .finally(() => {
        renewing = undefined;
      });
    p.catch(() => undefined); // reported through renewal()
    renewing = p;
  };

  const open = (): Channel => {
    const creds = loadCredentials(stateDir);
    stamp = credentialsStamp(stateDir);
    return {
      client: new Ctor(daemon ?? creds.state.daemon, deviceCredentials(creds), {
        ...DEVICE_CHANNEL_OPTIONS,
        interceptors: [renewHintInterceptor(() => generation, onHint)],
      }),
      calls: 0,
    };
  };
  const retire = (c: Channel) => {
    if (c.calls === 0) c.client.close();
    else retired.add(c);
  };
  const done = (c: Channel) => {
    c.calls--;
    if (c.calls === 0 && retired.delete(c)) c.client.close();
  };
  /** The channel for a new call: a new one when the certificate on disk changed. */
  const channel = (): Channel => {
    if (!current || credentialsStamp(stateDir) !== stamp) {
      const prev = current;
      current = open();
      if (prev) retire(prev);
    }
    current.calls++;
    return current;
  };
  current = open();

  const unary =
    (method: UnaryMethod): Unary =>
    (req, md, opts, cb) => {
      const c = channel();
      c.client[method](req, md, opts, (e, r) => {
        done(c);
        cb(e, r);
      });
    };
  return {
    ListNodes: unary("ListNodes"),
    Dispatch: unary("Dispatch"),
    Run: unary("Run"),
    GetJob: unary("GetJob"),
    CancelJob: unary("CancelJob"),
    ListJobs: unary("ListJobs"),
    WatchJob(req, md = new Metadata(), opts = {}) {
      const c = channel();
      const s = c.client.WatchJob(req, md, opts);
      s.once("status", () => done(c));
      return s;
    },
    renewal: () => renewing ?? Promise.resolve(undefined),
    close() {
      current?.client.close();
      for (const c of retired) c.client.close();
      retired.clear();
    },
  };
}
