// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto


/**
 * Which jobs an orchestrator may see and act on besides the ones it dispatched (docs/fleet.md 6.1).
 */
export interface JobScope {
  /**
   * "own" (or ""): only its own jobs; "all": every job;
   */
  'kind'?: (string);
  /**
   * "labels": also the jobs of devices carrying every label below
   */
  'labels'?: ({[key: string]: string});
}

/**
 * Which jobs an orchestrator may see and act on besides the ones it dispatched (docs/fleet.md 6.1).
 */
export interface JobScope__Output {
  /**
   * "own" (or ""): only its own jobs; "all": every job;
   */
  'kind': (string);
  /**
   * "labels": also the jobs of devices carrying every label below
   */
  'labels': ({[key: string]: string});
}
