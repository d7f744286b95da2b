// ESLint for tether: typescript-eslint with type information, for the rules that catch bugs
// (a promise nobody awaits, an `any` that turns the compiler off, a switch that misses a case),
// not for style; Prettier owns the layout (prettier.config.js). `npm run lint` runs both.
// Each rule turned off below says why: it found only deliberate code here, or it is taste.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  {
    // Generated wire types (packages/*/src/gen) are checked by tsc and regenerated, not edited.
    ignores: ["**/node_modules/", "**/dist/", "packages/*/src/gen/"],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: "error" },
  },
  {
    files: ["**/*.ts"],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // The root tsconfig.json covers packages/*/src, test/ and bench/.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A `switch` over a union (job states, message kinds) that forgets a member. A `default:`
      // counts as handling the rest: gRPC status switches list only the codes they map.
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      // `return promise` inside `try` skips the `catch` and `finally` it sits in.
      "@typescript-eslint/return-await": ["error", "in-try-catch"],
      // Spreading a Promise, a Map or a class instance into an object silently copies nothing
      // useful. Spreading a string is fine here: digits, PINs and QR block characters.
      "@typescript-eslint/no-misused-spread": ["error", { allow: [{ from: "lib", name: "string" }] }],
      // A deprecated Node or library API (`new Buffer`, `url.parse`) called by accident.
      "@typescript-eslint/no-deprecated": "error",
      // `_`-prefixed names are deliberately unused: the fields a destructuring leaves out.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true },
      ],
      // Rejecting with a string or a plain object loses the stack and `.message`. A caught value
      // passed on as it was (`unknown`, or the `any` of an abort reason) is not that bug.
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingAny: true, allowThrowingUnknown: true }],

      // Off: gRPC status codes arrive as numbers and are compared with grpc-js's `status` enum
      // throughout; every finding was such a comparison.
      "@typescript-eslint/no-unsafe-enum-comparison": "off",
      // Off: taste. An async function without `await` is how a synchronous throw becomes a
      // rejection, which callers here rely on.
      "@typescript-eslint/require-await": "off",
      // Off: taste. A redundant assertion is harmless, and removing them is churn.
      "@typescript-eslint/no-unnecessary-type-assertion": "off",
      // Off: `Promise<unknown> | unknown` documents that a handler may be async; the rule calls
      // it redundant, which it is to the compiler and not to a reader.
      "@typescript-eslint/no-redundant-type-constituents": "off",
      // Off: every regex that names a control character does so on purpose (inert(), the DER
      // string checks, the tests that feed escapes to the CLI).
      "no-control-regex": "off",
      // Off: every finding was a fail-closed initialiser (`let ok = false` before the `try` that
      // sets it), which is deliberate in the signature checks.
      "no-useless-assignment": "off",
      // Off: taste; its findings were references bound late for closures created before them.
      "prefer-const": "off",
      // Not turned on, though it is in typescript-eslint's strict set: no-unnecessary-condition.
      // Its findings here were the labelled checks on wire and file input (habit 5), whose static
      // types trust more than the bytes deserve.
    },
  },
  {
    // The few plain-JS files (the test runner, the CLI entry, bin/tether, this file): the core
    // rules only, as there are no types to check them with.
    files: ["**/*.js", "bin/tether"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    // The web console's page script runs in the browser, not in Node.
    files: ["packages/console/static/**/*.js"],
    languageOptions: { globals: globals.browser },
  },
);
