/**
 * Secret values in memory. Untrusted: every sink that formats objects (loggers, error messages,
 * JSON bodies, audit entries, `console.log`, template literals). This wrapper makes each of those
 * paths print "[secret]" instead of the value, so a secret can only leave the process through an
 * explicit `reveal()` call, which is easy to grep for (only gateway/inject.ts should make one).
 * It does not protect against code that deliberately reveals and then prints the value.
 */
import { inspect } from "node:util";

const REDACTED = "[secret]";

/** A string that refuses to print itself; call `reveal()` to get the value out on purpose. */
export class Secret {
  // A private field, not a property: util.inspect, JSON.stringify, Object.keys and spread never see it.
  readonly #value: string;

  /** Wraps `value`; the wrapper never exposes it except through `reveal()`. */
  constructor(value: string) {
    this.#value = value;
  }

  /** Returns the real value. Every call site is a place a secret leaves the wrapper. */
  reveal(): string {
    return this.#value;
  }

  /** Always "[secret]", so `String(s)` and template literals cannot leak the value. */
  toString(): string {
    return REDACTED;
  }

  /** Always "[secret]", so `JSON.stringify` of any object holding a Secret is safe to log or store. */
  toJSON(): string {
    return REDACTED;
  }

  /** Always "[secret]"; covers `s + ""`, which asks for a primitive before trying `toString`. */
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  /** Always "[secret]", for `util.inspect`, `console.log` and `util.format("%o", s)`. */
  [inspect.custom](): string {
    return REDACTED;
  }
}
