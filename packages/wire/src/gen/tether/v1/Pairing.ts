// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/pairing.proto

import type { MethodDefinition } from '@grpc/proto-loader'
import type { AwaitRequest as _tether_v1_AwaitRequest, AwaitRequest__Output as _tether_v1_AwaitRequest__Output } from '../../tether/v1/AwaitRequest.js';
import type { AwaitResponse as _tether_v1_AwaitResponse, AwaitResponse__Output as _tether_v1_AwaitResponse__Output } from '../../tether/v1/AwaitResponse.js';
import type { FinishRequest as _tether_v1_FinishRequest, FinishRequest__Output as _tether_v1_FinishRequest__Output } from '../../tether/v1/FinishRequest.js';
import type { FinishResponse as _tether_v1_FinishResponse, FinishResponse__Output as _tether_v1_FinishResponse__Output } from '../../tether/v1/FinishResponse.js';
import type { ReturnRequest as _tether_v1_ReturnRequest, ReturnRequest__Output as _tether_v1_ReturnRequest__Output } from '../../tether/v1/ReturnRequest.js';
import type { ReturnResponse as _tether_v1_ReturnResponse, ReturnResponse__Output as _tether_v1_ReturnResponse__Output } from '../../tether/v1/ReturnResponse.js';
import type { RevealRequest as _tether_v1_RevealRequest, RevealRequest__Output as _tether_v1_RevealRequest__Output } from '../../tether/v1/RevealRequest.js';
import type { RevealResponse as _tether_v1_RevealResponse, RevealResponse__Output as _tether_v1_RevealResponse__Output } from '../../tether/v1/RevealResponse.js';
import type { StartRequest as _tether_v1_StartRequest, StartRequest__Output as _tether_v1_StartRequest__Output } from '../../tether/v1/StartRequest.js';
import type { StartResponse as _tether_v1_StartResponse, StartResponse__Output as _tether_v1_StartResponse__Output } from '../../tether/v1/StartResponse.js';

export interface PairingDefinition {
  Await: MethodDefinition<_tether_v1_AwaitRequest, _tether_v1_AwaitResponse, _tether_v1_AwaitRequest__Output, _tether_v1_AwaitResponse__Output>
  Finish: MethodDefinition<_tether_v1_FinishRequest, _tether_v1_FinishResponse, _tether_v1_FinishRequest__Output, _tether_v1_FinishResponse__Output>
  Return: MethodDefinition<_tether_v1_ReturnRequest, _tether_v1_ReturnResponse, _tether_v1_ReturnRequest__Output, _tether_v1_ReturnResponse__Output>
  Reveal: MethodDefinition<_tether_v1_RevealRequest, _tether_v1_RevealResponse, _tether_v1_RevealRequest__Output, _tether_v1_RevealResponse__Output>
  Start: MethodDefinition<_tether_v1_StartRequest, _tether_v1_StartResponse, _tether_v1_StartRequest__Output, _tether_v1_StartResponse__Output>
}
