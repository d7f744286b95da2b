/**
 * Labelled checks of the ids a caller names, made before any lookup: an id that cannot be one
 * is INVALID_ARGUMENT, and at most a short prefix of it is echoed, in the error or in a log.
 * (Job ids are checked by @tether/jobs, which makes them.)
 */
import { status } from "@grpc/grpc-js";
import { clip } from "@tether/base";
import { isDeviceId } from "@tether/crypto";
import { DaemonError } from "./errors.js";

/** The refusal of a string that is not a device id (`dev_` and 26 base32 characters). */
export function notADeviceId(label: string, value: string): string {
  return `"${label}" must be a device id (dev_ and 26 base32 characters), got ${JSON.stringify(clip(value))}`;
}

/** @throws DaemonError INVALID_ARGUMENT */
export function deviceIdArg(value: string, label: string): string {
  if (!isDeviceId(value)) throw new DaemonError("INVALID_ARGUMENT", notADeviceId(label, value), { status: status.INVALID_ARGUMENT });
  return value;
}

/**
 * Pairing request ids are @tether/pairing's to define (`req_` and 24 hex digits today), so the
 * daemon only bounds them: 1 to 64 letters, digits, `_` or `-`; an id within that is looked up
 * (NOT_FOUND when unknown).
 */
const REQUEST_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** @throws DaemonError INVALID_ARGUMENT */
export function requestIdArg(value: string, label: string): string {
  if (!REQUEST_ID_RE.test(value)) {
    throw new DaemonError("INVALID_ARGUMENT", `"${label}" must be a pairing request id (1 to 64 letters, digits, _ or -), got ${JSON.stringify(clip(value))}`, {
      status: status.INVALID_ARGUMENT,
    });
  }
  return value;
}
