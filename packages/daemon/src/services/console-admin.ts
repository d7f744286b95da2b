/** The Admin service's OpenConsole (tether console; docs/console.md): a one-time login URL for the web console. */
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { ConsoleHost } from "../console.js";
import type { Logger } from "../log.js";
import { unaryOn } from "./rpc.js";

const unary = unaryOn("admin-socket");

export function consoleAdmin(host: ConsoleHost, log: Logger): UntypedServiceImplementation {
  return {
    OpenConsole: unary<object, { url: string; expiresAt: number }>(log, "Admin.OpenConsole", async () => {
      const r = await host.open();
      // The URL carries the login token: it goes to the caller only, never to the log.
      log.info("console login link issued", { expiresAt: new Date(r.expiresAt).toISOString() });
      return r;
    }),
  };
}
