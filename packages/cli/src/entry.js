// Plain-JS entry for bin/tether in a checkout: registers tsx so the TypeScript sources run
// directly, then runs the CLI (bin.ts). An installed package runs dist/tether.js instead.
import { register } from "tsx/esm/api";

register();
await import("./bin.ts");
