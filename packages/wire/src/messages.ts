/**
 * The message shapes of the wire contract, generated from proto/ by `npm run gen` into ./gen/
 * (never edit those files; docs/protocol.md §13). This module only gives them the names the
 * rest of the tree uses:
 *
 * - `X` is a message as tetherPackageDefinition() decodes it (the generator's `X__Output`,
 *   made with the same LOAD_OPTIONS): camelCase names, int64 as number, bytes as Buffer,
 *   every scalar, repeated and map field present (its default when absent on the wire), a
 *   message field null when absent, a oneof's members optional and its name in the virtual
 *   field.
 * - `XInit` is what our code builds to send one, for the messages that carry bytes: every
 *   field given (Required, our rule, so that a field cannot be forgotten), each in any form
 *   the encoder takes (bytes as any Uint8Array). The generator's permissive `X` alone would
 *   make every field optional. The stream messages, each a oneof, are sent with one member
 *   set: their Init is the permissive type as it is.
 */
import type { AwaitResponse as AwaitResponseFields } from "./gen/tether/v1/AwaitResponse.js";
import type { DaemonMessage as DaemonMessageFields } from "./gen/tether/v1/DaemonMessage.js";
import type { NodeMessage as NodeMessageFields } from "./gen/tether/v1/NodeMessage.js";
import type { RenewRequest as RenewRequestFields } from "./gen/tether/v1/RenewRequest.js";
import type { RenewResponse as RenewResponseFields } from "./gen/tether/v1/RenewResponse.js";
import type { ReturnRequest as ReturnRequestFields } from "./gen/tether/v1/ReturnRequest.js";
import type { ReturnResponse as ReturnResponseFields } from "./gen/tether/v1/ReturnResponse.js";
import type { RevealResponse as RevealResponseFields } from "./gen/tether/v1/RevealResponse.js";
import type { StartResponse as StartResponseFields } from "./gen/tether/v1/StartResponse.js";

export type { AwaitRequest__Output as AwaitRequest } from "./gen/tether/v1/AwaitRequest.js";
export type { AwaitResponse__Output as AwaitResponse } from "./gen/tether/v1/AwaitResponse.js";
export type { DaemonMessage__Output as DaemonMessage } from "./gen/tether/v1/DaemonMessage.js";
export type { NodeMessage__Output as NodeMessage } from "./gen/tether/v1/NodeMessage.js";
export type { CreateCodeRequest__Output as CreateCodeRequest } from "./gen/tether/v1/CreateCodeRequest.js";
export type { CreateCodeResponse__Output as CreateCodeResponse } from "./gen/tether/v1/CreateCodeResponse.js";
export type { Device__Output as Device } from "./gen/tether/v1/Device.js";
export type { FinishRequest__Output as FinishRequest } from "./gen/tether/v1/FinishRequest.js";
export type { FinishResponse__Output as FinishResponse } from "./gen/tether/v1/FinishResponse.js";
export type { Job__Output as Job } from "./gen/tether/v1/Job.js";
export type { JobScope__Output as JobScope } from "./gen/tether/v1/JobScope.js";
export type { NodeInfo__Output as NodeInfo } from "./gen/tether/v1/NodeInfo.js";
export type { PairRequest__Output as PairRequest } from "./gen/tether/v1/PairRequest.js";
export type { RenewRequest__Output as RenewRequest } from "./gen/tether/v1/RenewRequest.js";
export type { RenewResponse__Output as RenewResponse } from "./gen/tether/v1/RenewResponse.js";
export type { ReturnRequest__Output as ReturnRequest } from "./gen/tether/v1/ReturnRequest.js";
export type { ReturnResponse__Output as ReturnResponse } from "./gen/tether/v1/ReturnResponse.js";
export type { RevealRequest__Output as RevealRequest } from "./gen/tether/v1/RevealRequest.js";
export type { RevealResponse__Output as RevealResponse } from "./gen/tether/v1/RevealResponse.js";
export type { StartRequest__Output as StartRequest } from "./gen/tether/v1/StartRequest.js";
export type { StartResponse__Output as StartResponse } from "./gen/tether/v1/StartResponse.js";
export type { StatusResponse__Output as StatusResponse } from "./gen/tether/v1/StatusResponse.js";

/** What the daemon or a node builds to send (see above). */
export type AwaitResponseInit = Required<AwaitResponseFields>;
export type DaemonMessageInit = DaemonMessageFields;
export type NodeMessageInit = NodeMessageFields;
export type RenewRequestInit = Required<RenewRequestFields>;
export type RenewResponseInit = Required<RenewResponseFields>;
export type ReturnRequestInit = Required<ReturnRequestFields>;
export type ReturnResponseInit = ReturnResponseFields;
export type RevealResponseInit = Required<RevealResponseFields>;
export type StartResponseInit = Required<StartResponseFields>;
