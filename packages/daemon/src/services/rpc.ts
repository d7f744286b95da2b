/** Adapters from async functions to grpc-js handlers; every failure goes through toServiceError. */
import type { ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import type { Logger } from "../log.js";
import { toServiceError } from "../errors.js";

export function unary<Req, Res>(log: Logger, method: string, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    fn(call.request, call).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err, log, method) as never, null),
    );
  };
}
