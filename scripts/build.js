#!/usr/bin/env node
// Builds dist/, what the installed package runs: the workspace packages (packages/*, the
// CLI, the daemon and the node SDK) bundled by esbuild into ES modules, with every npm
// dependency left external, to be installed by npm beside the package. `npm pack` runs this
// first (the "prepack" script); a checkout never runs dist/ (bin/tether picks the sources).
//
// The rule (docs/operations.md, "Packaging"): the root package.json "dependencies" are the
// run-time dependencies, and each one is external. Adding a dependency is one line there.
// Code that imports a package listed nowhere there fails the build, naming the package and
// the importer, rather than being bundled by accident.
//
// The bundle is split: the entry (dist/tether.js) and the chunks it imports statically are
// what every `tether` start-up loads, so they must import no dependency at all; each
// command imports its heavy modules inside run() (`await import(...)`). The build fails,
// naming the chunk and the dependency, when that is broken.
//   node scripts/build.js [--metafile FILE]
import { builtinModules } from "node:module";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const outdir = join(root, "dist");
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const dependencies = new Set(Object.keys(manifest.dependencies ?? {}));
const builtins = new Set(builtinModules);
/** Dependencies that every start-up may load (none: each costs tens of milliseconds). */
const STARTUP_ALLOWED = new Set([]);

/** "@grpc/grpc-js/build/x" -> "@grpc/grpc-js", "qrcode/lib/x" -> "qrcode" */
function packageName(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** The workspace packages are bundled; dependencies stay external; anything else is an error. */
const dependencyRule = {
  name: "tether-dependencies",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("node:")) return { path: args.path, external: true };
      const name = packageName(args.path);
      if (name.startsWith("@tether/")) return undefined; // a workspace package: bundled
      if (dependencies.has(name)) return { path: args.path, external: true };
      if (builtins.has(name)) return { path: args.path, external: true };
      return {
        errors: [
          {
            text: `${name} is imported by ${relative(root, args.importer)} but is not in the root package.json "dependencies": add it there (the installed package gets only those, and each is left external)`,
          },
        ],
      };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { tether: "packages/cli/src/bin.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  chunkNames: "chunks/[name]-[hash]",
  // readable stack traces and an auditable package: no minifying
  minify: false,
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
  plugins: [dependencyRule],
}).catch(() => process.exit(1)); // esbuild has printed the errors

// What every start-up loads: the entry and, transitively, its static imports.
const outputs = result.metafile.outputs;
const entry = Object.keys(outputs).find((o) => outputs[o].entryPoint === "packages/cli/src/bin.ts");
const seen = new Set();
const problems = [];
const walk = (file) => {
  if (seen.has(file)) return;
  seen.add(file);
  for (const imp of outputs[file].imports) {
    if (imp.kind !== "import-statement") continue;
    if (!imp.external) walk(imp.path);
    else if (!imp.path.startsWith("node:") && !builtins.has(imp.path) && !STARTUP_ALLOWED.has(packageName(imp.path))) {
      problems.push(`${imp.path} (imported by ${file})`);
    }
  }
};
walk(entry);
if (problems.length) {
  console.error(
    `build: every tether start-up would load these dependencies:\n  ${problems.join("\n  ")}\n` +
      `import them inside the command's run() (const { x } = await import("...")), not at the top of a module the CLI's command table imports`,
  );
  process.exit(1);
}
// The web console's page, script and style (packages/console/static), read at run time from
// dist/static/, beside the chunk that serves them.
cpSync(join(root, "packages/console/static"), join(outdir, "static"), { recursive: true });
const metaArg = process.argv.indexOf("--metafile");
if (metaArg > 0) {
  const file = process.argv[metaArg + 1];
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(result.metafile));
}
const bytes = Object.values(outputs).reduce((n, o) => n + o.bytes, 0);
const startup = [...seen].reduce((n, o) => n + outputs[o].bytes, 0);
console.log(`build: dist/ ${Object.keys(outputs).length} files, ${(bytes / 1024).toFixed(0)} KiB; start-up loads ${seen.size} of them, ${(startup / 1024).toFixed(0)} KiB`);
