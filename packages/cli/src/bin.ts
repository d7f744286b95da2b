/**
 * The CLI as a program: runs main() on this process's arguments and exits with its code. The
 * entry of the bundle in dist/ (scripts/build.js), and what packages/cli/src/entry.js runs
 * through tsx in a checkout.
 */
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
});
