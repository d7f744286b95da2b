// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto

import type { Registered as _tether_v1_Registered, Registered__Output as _tether_v1_Registered__Output } from '../../tether/v1/Registered.js';
import type { JobAssignment as _tether_v1_JobAssignment, JobAssignment__Output as _tether_v1_JobAssignment__Output } from '../../tether/v1/JobAssignment.js';
import type { CancelJob as _tether_v1_CancelJob, CancelJob__Output as _tether_v1_CancelJob__Output } from '../../tether/v1/CancelJob.js';
import type { Ping as _tether_v1_Ping, Ping__Output as _tether_v1_Ping__Output } from '../../tether/v1/Ping.js';
import type { RenewNow as _tether_v1_RenewNow, RenewNow__Output as _tether_v1_RenewNow__Output } from '../../tether/v1/RenewNow.js';
import type { Crl as _tether_v1_Crl, Crl__Output as _tether_v1_Crl__Output } from '../../tether/v1/Crl.js';

export interface DaemonMessage {
  'registered'?: (_tether_v1_Registered | null);
  'job'?: (_tether_v1_JobAssignment | null);
  'cancel'?: (_tether_v1_CancelJob | null);
  'pong'?: (_tether_v1_Ping | null);
  'renew'?: (_tether_v1_RenewNow | null);
  /**
   * The CA's current CRL: sent after `registered` and again whenever it changes (every
   * revocation, and the daily refresh). Nodes MUST verify it against the CA before use.
   */
  'crl'?: (_tether_v1_Crl | null);
  'msg'?: "registered"|"job"|"cancel"|"pong"|"renew"|"crl";
}

export interface DaemonMessage__Output {
  'registered'?: (_tether_v1_Registered__Output | null);
  'job'?: (_tether_v1_JobAssignment__Output | null);
  'cancel'?: (_tether_v1_CancelJob__Output | null);
  'pong'?: (_tether_v1_Ping__Output | null);
  'renew'?: (_tether_v1_RenewNow__Output | null);
  /**
   * The CA's current CRL: sent after `registered` and again whenever it changes (every
   * revocation, and the daily refresh). Nodes MUST verify it against the CA before use.
   */
  'crl'?: (_tether_v1_Crl__Output | null);
  'msg'?: "registered"|"job"|"cancel"|"pong"|"renew"|"crl";
}
