/**
 * A wrapper for secret values (pairing codes, PAKE secrets, private keys) that never prints:
 * `console.log`, `util.inspect`, `JSON.stringify` and string conversion all give a redacted form.
 */
import { inspect } from "node:util";

export class Secret<T = Uint8Array | string> {
  readonly #value: T;
  readonly #label: string;
  constructor(value: T, label = "secret") {
    this.#value = value;
    this.#label = label;
  }
  /** The secret itself; call only where it is used, never where it is logged. */
  expose(): T {
    return this.#value;
  }
  toString(): string {
    return `${this.#label}([redacted])`;
  }
  toJSON(): string {
    return this.toString();
  }
  [inspect.custom](): string {
    return this.toString();
  }
}
