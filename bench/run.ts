/** npm run bench [-- NAME...]: runs the named benchmarks (default: all) and prints their figures. */
import { benchDispatch } from "./dispatch.ts";
import { benchPairing } from "./pairing.ts";

const ALL: Record<string, () => Promise<void>> = { dispatch: benchDispatch, pairing: benchPairing };
const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(ALL);
for (const n of names) {
  const b = ALL[n];
  if (!b) {
    console.error(`unknown benchmark ${n}; known: ${Object.keys(ALL).join(", ")}`);
    process.exit(2);
  }
  console.log(`# ${n} (node ${process.version}, ${new Date().toISOString()})`);
  await b();
}
