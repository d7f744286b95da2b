// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto


/**
 * The node is stopping: deliver no more jobs on this stream. It finishes (and reports) the
 * jobs it is running, then ends the stream; jobs not yet finished then go back to the queue.
 */
export interface Drain {
}

/**
 * The node is stopping: deliver no more jobs on this stream. It finishes (and reports) the
 * jobs it is running, then ends the stream; jobs not yet finished then go back to the queue.
 */
export interface Drain__Output {
}
