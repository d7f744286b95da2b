// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/orchestrator.proto

import type { FanoutJob as _tether_v1_FanoutJob, FanoutJob__Output as _tether_v1_FanoutJob__Output } from '../../tether/v1/FanoutJob.js';
import type { FanoutSkip as _tether_v1_FanoutSkip, FanoutSkip__Output as _tether_v1_FanoutSkip__Output } from '../../tether/v1/FanoutSkip.js';
import type { Long } from '@grpc/proto-loader';

export interface Fanout {
  /**
   * fan_ + 24 hex digits
   */
  'id'?: (string);
  'capability'?: (string);
  /**
   * as given, for people
   */
  'selector'?: (string);
  'dispatchedBy'?: (string);
  'createdAt'?: (number | string | Long);
  /**
   * one per device that got one (GetJob for its input and output)
   */
  'jobs'?: (_tether_v1_FanoutJob)[];
  /**
   * matched, but got none (and why)
   */
  'skipped'?: (_tether_v1_FanoutSkip)[];
  /**
   * jobs by state now
   */
  'states'?: ({[key: string]: number});
  /**
   * DispatchMany: this idempotency key had made it before
   */
  'existed'?: (boolean);
}

export interface Fanout__Output {
  /**
   * fan_ + 24 hex digits
   */
  'id': (string);
  'capability': (string);
  /**
   * as given, for people
   */
  'selector': (string);
  'dispatchedBy': (string);
  'createdAt': (number);
  /**
   * one per device that got one (GetJob for its input and output)
   */
  'jobs': (_tether_v1_FanoutJob__Output)[];
  /**
   * matched, but got none (and why)
   */
  'skipped': (_tether_v1_FanoutSkip__Output)[];
  /**
   * jobs by state now
   */
  'states': ({[key: string]: number});
  /**
   * DispatchMany: this idempotency key had made it before
   */
  'existed': (boolean);
}
