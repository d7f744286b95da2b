// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/node.proto

import type { MethodDefinition } from '@grpc/proto-loader'
import type { Crl as _tether_v1_Crl, Crl__Output as _tether_v1_Crl__Output } from '../../tether/v1/Crl.js';
import type { DaemonMessage as _tether_v1_DaemonMessage, DaemonMessage__Output as _tether_v1_DaemonMessage__Output } from '../../tether/v1/DaemonMessage.js';
import type { GetCrlRequest as _tether_v1_GetCrlRequest, GetCrlRequest__Output as _tether_v1_GetCrlRequest__Output } from '../../tether/v1/GetCrlRequest.js';
import type { GetJwksRequest as _tether_v1_GetJwksRequest, GetJwksRequest__Output as _tether_v1_GetJwksRequest__Output } from '../../tether/v1/GetJwksRequest.js';
import type { IssueTokenRequest as _tether_v1_IssueTokenRequest, IssueTokenRequest__Output as _tether_v1_IssueTokenRequest__Output } from '../../tether/v1/IssueTokenRequest.js';
import type { IssueTokenResponse as _tether_v1_IssueTokenResponse, IssueTokenResponse__Output as _tether_v1_IssueTokenResponse__Output } from '../../tether/v1/IssueTokenResponse.js';
import type { Jwks as _tether_v1_Jwks, Jwks__Output as _tether_v1_Jwks__Output } from '../../tether/v1/Jwks.js';
import type { NodeMessage as _tether_v1_NodeMessage, NodeMessage__Output as _tether_v1_NodeMessage__Output } from '../../tether/v1/NodeMessage.js';
import type { RenewRequest as _tether_v1_RenewRequest, RenewRequest__Output as _tether_v1_RenewRequest__Output } from '../../tether/v1/RenewRequest.js';
import type { RenewResponse as _tether_v1_RenewResponse, RenewResponse__Output as _tether_v1_RenewResponse__Output } from '../../tether/v1/RenewResponse.js';
import type { VerifyRequest as _tether_v1_VerifyRequest, VerifyRequest__Output as _tether_v1_VerifyRequest__Output } from '../../tether/v1/VerifyRequest.js';
import type { VerifyResponse as _tether_v1_VerifyResponse, VerifyResponse__Output as _tether_v1_VerifyResponse__Output } from '../../tether/v1/VerifyResponse.js';

export interface NodeDefinition {
  Connect: MethodDefinition<_tether_v1_NodeMessage, _tether_v1_DaemonMessage, _tether_v1_NodeMessage__Output, _tether_v1_DaemonMessage__Output>
  GetCrl: MethodDefinition<_tether_v1_GetCrlRequest, _tether_v1_Crl, _tether_v1_GetCrlRequest__Output, _tether_v1_Crl__Output>
  GetJwks: MethodDefinition<_tether_v1_GetJwksRequest, _tether_v1_Jwks, _tether_v1_GetJwksRequest__Output, _tether_v1_Jwks__Output>
  IssuePeerCertificate: MethodDefinition<_tether_v1_RenewRequest, _tether_v1_RenewResponse, _tether_v1_RenewRequest__Output, _tether_v1_RenewResponse__Output>
  IssueToken: MethodDefinition<_tether_v1_IssueTokenRequest, _tether_v1_IssueTokenResponse, _tether_v1_IssueTokenRequest__Output, _tether_v1_IssueTokenResponse__Output>
  Renew: MethodDefinition<_tether_v1_RenewRequest, _tether_v1_RenewResponse, _tether_v1_RenewRequest__Output, _tether_v1_RenewResponse__Output>
  Verify: MethodDefinition<_tether_v1_VerifyRequest, _tether_v1_VerifyResponse, _tether_v1_VerifyRequest__Output, _tether_v1_VerifyResponse__Output>
}
