/**
 * Assertion for the gateway's error contract: status, `x-warden-error` header and a JSON body
 * `{"error":{"code","message",…}}`.
 */
import { expect } from "vitest";
import type { ProxiedResponse } from "../fakes/proxy-client.js";

/** Status each error code must come with (DESIGN.md §3). */
export const ERROR_STATUS = {
  proxy_auth_required: 407,
  host_not_allowed: 403,
  policy_denied: 403,
  approval_denied: 403,
  approval_expired: 403,
  private_address: 403,
  secret_host_mismatch: 403,
  rate_limited: 429,
  upstream_unreachable: 502,
  upstream_tls: 502,
  gateway_shutting_down: 503,
} as const;

export type WardenErrorCode = keyof typeof ERROR_STATUS;

/** Checks that `res` is the gateway's error `code` (or one of `code` when a list is given). */
export function expectWardenError(
  res: ProxiedResponse,
  code: WardenErrorCode | readonly WardenErrorCode[],
): void {
  const codes: readonly WardenErrorCode[] = typeof code === "string" ? [code] : code;
  const summary = `${res.status} ${res.text.slice(0, 300)}`;
  expect(codes, summary).toContain(res.errorCode);
  const actual = res.errorCode as WardenErrorCode;
  expect(res.status, summary).toBe(ERROR_STATUS[actual]);
  expect(res.json().error.code, summary).toBe(actual);
  expect(typeof res.json().error.message, summary).toBe("string");
}
