/** A paired orchestrator's mutual-TLS client for the Orchestrator service. */
import { Metadata } from "@grpc/grpc-js";
import type { Client, ServiceError } from "@grpc/grpc-js";
import { DEVICE_CHANNEL_OPTIONS, deviceCredentials, serviceClient } from "./client.js";
import { loadCredentials } from "./state.js";

type Unary = (req: unknown, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => void;
export type OrchestratorClient = Client & {
  ListNodes: Unary;
  Dispatch: Unary;
  /** Dispatch and wait for the final job, in one call. */
  Run: Unary;
  GetJob: Unary;
  CancelJob: Unary;
  ListJobs: Unary;
  WatchJob(req: unknown, md?: Metadata, opts?: object): NodeJS.ReadableStream & { cancel(): void };
};

/** Open an Orchestrator client with the device credentials in `stateDir`. */
export function orchestrator(stateDir: string, daemon?: string): OrchestratorClient {
  const c = loadCredentials(stateDir);
  const Ctor = serviceClient<OrchestratorClient>("Orchestrator");
  return new Ctor(daemon ?? c.state.daemon, deviceCredentials(c), DEVICE_CHANNEL_OPTIONS);
}
