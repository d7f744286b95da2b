// GENERATED FILE, DO NOT EDIT. Made from proto/ by `npm run gen`
// (packages/wire/scripts/gen-types.ts, with proto-loader-gen-types); `npm test` fails when it is stale.
// Lint and format tools skip it: change the .proto and regenerate instead.
// Original file: proto/tether/v1/admin.proto

import type { MethodDefinition } from '@grpc/proto-loader'
import type { ApproveRequestRequest as _tether_v1_ApproveRequestRequest, ApproveRequestRequest__Output as _tether_v1_ApproveRequestRequest__Output } from '../../tether/v1/ApproveRequestRequest.js';
import type { ClearRevocationRequest as _tether_v1_ClearRevocationRequest, ClearRevocationRequest__Output as _tether_v1_ClearRevocationRequest__Output } from '../../tether/v1/ClearRevocationRequest.js';
import type { CreateCodeRequest as _tether_v1_CreateCodeRequest, CreateCodeRequest__Output as _tether_v1_CreateCodeRequest__Output } from '../../tether/v1/CreateCodeRequest.js';
import type { CreateCodeResponse as _tether_v1_CreateCodeResponse, CreateCodeResponse__Output as _tether_v1_CreateCodeResponse__Output } from '../../tether/v1/CreateCodeResponse.js';
import type { Crl as _tether_v1_Crl, Crl__Output as _tether_v1_Crl__Output } from '../../tether/v1/Crl.js';
import type { Device as _tether_v1_Device, Device__Output as _tether_v1_Device__Output } from '../../tether/v1/Device.js';
import type { GetCrlRequest as _tether_v1_GetCrlRequest, GetCrlRequest__Output as _tether_v1_GetCrlRequest__Output } from '../../tether/v1/GetCrlRequest.js';
import type { GetDeviceRequest as _tether_v1_GetDeviceRequest, GetDeviceRequest__Output as _tether_v1_GetDeviceRequest__Output } from '../../tether/v1/GetDeviceRequest.js';
import type { GetJwksRequest as _tether_v1_GetJwksRequest, GetJwksRequest__Output as _tether_v1_GetJwksRequest__Output } from '../../tether/v1/GetJwksRequest.js';
import type { Jwks as _tether_v1_Jwks, Jwks__Output as _tether_v1_Jwks__Output } from '../../tether/v1/Jwks.js';
import type { ListAuditRequest as _tether_v1_ListAuditRequest, ListAuditRequest__Output as _tether_v1_ListAuditRequest__Output } from '../../tether/v1/ListAuditRequest.js';
import type { ListAuditResponse as _tether_v1_ListAuditResponse, ListAuditResponse__Output as _tether_v1_ListAuditResponse__Output } from '../../tether/v1/ListAuditResponse.js';
import type { ListDevicesRequest as _tether_v1_ListDevicesRequest, ListDevicesRequest__Output as _tether_v1_ListDevicesRequest__Output } from '../../tether/v1/ListDevicesRequest.js';
import type { ListDevicesResponse as _tether_v1_ListDevicesResponse, ListDevicesResponse__Output as _tether_v1_ListDevicesResponse__Output } from '../../tether/v1/ListDevicesResponse.js';
import type { ListPreauthorizationsRequest as _tether_v1_ListPreauthorizationsRequest, ListPreauthorizationsRequest__Output as _tether_v1_ListPreauthorizationsRequest__Output } from '../../tether/v1/ListPreauthorizationsRequest.js';
import type { ListPreauthorizationsResponse as _tether_v1_ListPreauthorizationsResponse, ListPreauthorizationsResponse__Output as _tether_v1_ListPreauthorizationsResponse__Output } from '../../tether/v1/ListPreauthorizationsResponse.js';
import type { ListRequestsRequest as _tether_v1_ListRequestsRequest, ListRequestsRequest__Output as _tether_v1_ListRequestsRequest__Output } from '../../tether/v1/ListRequestsRequest.js';
import type { ListRequestsResponse as _tether_v1_ListRequestsResponse, ListRequestsResponse__Output as _tether_v1_ListRequestsResponse__Output } from '../../tether/v1/ListRequestsResponse.js';
import type { ListWebhookDeliveriesRequest as _tether_v1_ListWebhookDeliveriesRequest, ListWebhookDeliveriesRequest__Output as _tether_v1_ListWebhookDeliveriesRequest__Output } from '../../tether/v1/ListWebhookDeliveriesRequest.js';
import type { ListWebhookDeliveriesResponse as _tether_v1_ListWebhookDeliveriesResponse, ListWebhookDeliveriesResponse__Output as _tether_v1_ListWebhookDeliveriesResponse__Output } from '../../tether/v1/ListWebhookDeliveriesResponse.js';
import type { ListWebhooksRequest as _tether_v1_ListWebhooksRequest, ListWebhooksRequest__Output as _tether_v1_ListWebhooksRequest__Output } from '../../tether/v1/ListWebhooksRequest.js';
import type { ListWebhooksResponse as _tether_v1_ListWebhooksResponse, ListWebhooksResponse__Output as _tether_v1_ListWebhooksResponse__Output } from '../../tether/v1/ListWebhooksResponse.js';
import type { OpenConsoleRequest as _tether_v1_OpenConsoleRequest, OpenConsoleRequest__Output as _tether_v1_OpenConsoleRequest__Output } from '../../tether/v1/OpenConsoleRequest.js';
import type { OpenConsoleResponse as _tether_v1_OpenConsoleResponse, OpenConsoleResponse__Output as _tether_v1_OpenConsoleResponse__Output } from '../../tether/v1/OpenConsoleResponse.js';
import type { PairRequest as _tether_v1_PairRequest, PairRequest__Output as _tether_v1_PairRequest__Output } from '../../tether/v1/PairRequest.js';
import type { Preauthorization as _tether_v1_Preauthorization, Preauthorization__Output as _tether_v1_Preauthorization__Output } from '../../tether/v1/Preauthorization.js';
import type { PreauthorizeRequest as _tether_v1_PreauthorizeRequest, PreauthorizeRequest__Output as _tether_v1_PreauthorizeRequest__Output } from '../../tether/v1/PreauthorizeRequest.js';
import type { RedeliverWebhookRequest as _tether_v1_RedeliverWebhookRequest, RedeliverWebhookRequest__Output as _tether_v1_RedeliverWebhookRequest__Output } from '../../tether/v1/RedeliverWebhookRequest.js';
import type { RejectRequestRequest as _tether_v1_RejectRequestRequest, RejectRequestRequest__Output as _tether_v1_RejectRequestRequest__Output } from '../../tether/v1/RejectRequestRequest.js';
import type { RevokeDeviceRequest as _tether_v1_RevokeDeviceRequest, RevokeDeviceRequest__Output as _tether_v1_RevokeDeviceRequest__Output } from '../../tether/v1/RevokeDeviceRequest.js';
import type { RevokePreauthorizationRequest as _tether_v1_RevokePreauthorizationRequest, RevokePreauthorizationRequest__Output as _tether_v1_RevokePreauthorizationRequest__Output } from '../../tether/v1/RevokePreauthorizationRequest.js';
import type { RotateDaemonCertificatesRequest as _tether_v1_RotateDaemonCertificatesRequest, RotateDaemonCertificatesRequest__Output as _tether_v1_RotateDaemonCertificatesRequest__Output } from '../../tether/v1/RotateDaemonCertificatesRequest.js';
import type { RotateDaemonCertificatesResponse as _tether_v1_RotateDaemonCertificatesResponse, RotateDaemonCertificatesResponse__Output as _tether_v1_RotateDaemonCertificatesResponse__Output } from '../../tether/v1/RotateDaemonCertificatesResponse.js';
import type { RotateDeviceRequest as _tether_v1_RotateDeviceRequest, RotateDeviceRequest__Output as _tether_v1_RotateDeviceRequest__Output } from '../../tether/v1/RotateDeviceRequest.js';
import type { RotateDeviceResponse as _tether_v1_RotateDeviceResponse, RotateDeviceResponse__Output as _tether_v1_RotateDeviceResponse__Output } from '../../tether/v1/RotateDeviceResponse.js';
import type { SetJobScopeRequest as _tether_v1_SetJobScopeRequest, SetJobScopeRequest__Output as _tether_v1_SetJobScopeRequest__Output } from '../../tether/v1/SetJobScopeRequest.js';
import type { SetLabelsRequest as _tether_v1_SetLabelsRequest, SetLabelsRequest__Output as _tether_v1_SetLabelsRequest__Output } from '../../tether/v1/SetLabelsRequest.js';
import type { SetReturnPolicyRequest as _tether_v1_SetReturnPolicyRequest, SetReturnPolicyRequest__Output as _tether_v1_SetReturnPolicyRequest__Output } from '../../tether/v1/SetReturnPolicyRequest.js';
import type { StatusRequest as _tether_v1_StatusRequest, StatusRequest__Output as _tether_v1_StatusRequest__Output } from '../../tether/v1/StatusRequest.js';
import type { StatusResponse as _tether_v1_StatusResponse, StatusResponse__Output as _tether_v1_StatusResponse__Output } from '../../tether/v1/StatusResponse.js';
import type { VerifyAuditRequest as _tether_v1_VerifyAuditRequest, VerifyAuditRequest__Output as _tether_v1_VerifyAuditRequest__Output } from '../../tether/v1/VerifyAuditRequest.js';
import type { VerifyAuditResponse as _tether_v1_VerifyAuditResponse, VerifyAuditResponse__Output as _tether_v1_VerifyAuditResponse__Output } from '../../tether/v1/VerifyAuditResponse.js';
import type { VerifyRequest as _tether_v1_VerifyRequest, VerifyRequest__Output as _tether_v1_VerifyRequest__Output } from '../../tether/v1/VerifyRequest.js';
import type { VerifyResponse as _tether_v1_VerifyResponse, VerifyResponse__Output as _tether_v1_VerifyResponse__Output } from '../../tether/v1/VerifyResponse.js';
import type { WebhookMessage as _tether_v1_WebhookMessage, WebhookMessage__Output as _tether_v1_WebhookMessage__Output } from '../../tether/v1/WebhookMessage.js';

export interface AdminDefinition {
  ApproveRequest: MethodDefinition<_tether_v1_ApproveRequestRequest, _tether_v1_PairRequest, _tether_v1_ApproveRequestRequest__Output, _tether_v1_PairRequest__Output>
  ClearRevocation: MethodDefinition<_tether_v1_ClearRevocationRequest, _tether_v1_Device, _tether_v1_ClearRevocationRequest__Output, _tether_v1_Device__Output>
  CreateCode: MethodDefinition<_tether_v1_CreateCodeRequest, _tether_v1_CreateCodeResponse, _tether_v1_CreateCodeRequest__Output, _tether_v1_CreateCodeResponse__Output>
  GetCrl: MethodDefinition<_tether_v1_GetCrlRequest, _tether_v1_Crl, _tether_v1_GetCrlRequest__Output, _tether_v1_Crl__Output>
  GetDevice: MethodDefinition<_tether_v1_GetDeviceRequest, _tether_v1_Device, _tether_v1_GetDeviceRequest__Output, _tether_v1_Device__Output>
  GetJwks: MethodDefinition<_tether_v1_GetJwksRequest, _tether_v1_Jwks, _tether_v1_GetJwksRequest__Output, _tether_v1_Jwks__Output>
  ListAudit: MethodDefinition<_tether_v1_ListAuditRequest, _tether_v1_ListAuditResponse, _tether_v1_ListAuditRequest__Output, _tether_v1_ListAuditResponse__Output>
  ListDevices: MethodDefinition<_tether_v1_ListDevicesRequest, _tether_v1_ListDevicesResponse, _tether_v1_ListDevicesRequest__Output, _tether_v1_ListDevicesResponse__Output>
  ListPreauthorizations: MethodDefinition<_tether_v1_ListPreauthorizationsRequest, _tether_v1_ListPreauthorizationsResponse, _tether_v1_ListPreauthorizationsRequest__Output, _tether_v1_ListPreauthorizationsResponse__Output>
  ListRequests: MethodDefinition<_tether_v1_ListRequestsRequest, _tether_v1_ListRequestsResponse, _tether_v1_ListRequestsRequest__Output, _tether_v1_ListRequestsResponse__Output>
  ListWebhookDeliveries: MethodDefinition<_tether_v1_ListWebhookDeliveriesRequest, _tether_v1_ListWebhookDeliveriesResponse, _tether_v1_ListWebhookDeliveriesRequest__Output, _tether_v1_ListWebhookDeliveriesResponse__Output>
  ListWebhooks: MethodDefinition<_tether_v1_ListWebhooksRequest, _tether_v1_ListWebhooksResponse, _tether_v1_ListWebhooksRequest__Output, _tether_v1_ListWebhooksResponse__Output>
  OpenConsole: MethodDefinition<_tether_v1_OpenConsoleRequest, _tether_v1_OpenConsoleResponse, _tether_v1_OpenConsoleRequest__Output, _tether_v1_OpenConsoleResponse__Output>
  Preauthorize: MethodDefinition<_tether_v1_PreauthorizeRequest, _tether_v1_Preauthorization, _tether_v1_PreauthorizeRequest__Output, _tether_v1_Preauthorization__Output>
  RedeliverWebhook: MethodDefinition<_tether_v1_RedeliverWebhookRequest, _tether_v1_WebhookMessage, _tether_v1_RedeliverWebhookRequest__Output, _tether_v1_WebhookMessage__Output>
  RejectRequest: MethodDefinition<_tether_v1_RejectRequestRequest, _tether_v1_PairRequest, _tether_v1_RejectRequestRequest__Output, _tether_v1_PairRequest__Output>
  RevokeDevice: MethodDefinition<_tether_v1_RevokeDeviceRequest, _tether_v1_Device, _tether_v1_RevokeDeviceRequest__Output, _tether_v1_Device__Output>
  RevokePreauthorization: MethodDefinition<_tether_v1_RevokePreauthorizationRequest, _tether_v1_Preauthorization, _tether_v1_RevokePreauthorizationRequest__Output, _tether_v1_Preauthorization__Output>
  RotateDaemonCertificates: MethodDefinition<_tether_v1_RotateDaemonCertificatesRequest, _tether_v1_RotateDaemonCertificatesResponse, _tether_v1_RotateDaemonCertificatesRequest__Output, _tether_v1_RotateDaemonCertificatesResponse__Output>
  RotateDevice: MethodDefinition<_tether_v1_RotateDeviceRequest, _tether_v1_RotateDeviceResponse, _tether_v1_RotateDeviceRequest__Output, _tether_v1_RotateDeviceResponse__Output>
  SetJobScope: MethodDefinition<_tether_v1_SetJobScopeRequest, _tether_v1_Device, _tether_v1_SetJobScopeRequest__Output, _tether_v1_Device__Output>
  SetLabels: MethodDefinition<_tether_v1_SetLabelsRequest, _tether_v1_Device, _tether_v1_SetLabelsRequest__Output, _tether_v1_Device__Output>
  SetReturnPolicy: MethodDefinition<_tether_v1_SetReturnPolicyRequest, _tether_v1_Device, _tether_v1_SetReturnPolicyRequest__Output, _tether_v1_Device__Output>
  Status: MethodDefinition<_tether_v1_StatusRequest, _tether_v1_StatusResponse, _tether_v1_StatusRequest__Output, _tether_v1_StatusResponse__Output>
  Verify: MethodDefinition<_tether_v1_VerifyRequest, _tether_v1_VerifyResponse, _tether_v1_VerifyRequest__Output, _tether_v1_VerifyResponse__Output>
  VerifyAudit: MethodDefinition<_tether_v1_VerifyAuditRequest, _tether_v1_VerifyAuditResponse, _tether_v1_VerifyAuditRequest__Output, _tether_v1_VerifyAuditResponse__Output>
}
