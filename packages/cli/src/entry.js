// Plain-JS entry for bin/tether: registers tsx so the TypeScript sources run directly,
// then runs the CLI and exits with its code.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./main.ts");
const code = await main(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
});
process.exitCode = code;
