/**
 * Stable error codes the gateway answers agents with (DESIGN.md §3, contract). Callers branch on
 * `code`; the message is for humans and never carries header values or secrets.
 */

/** Wire codes and their HTTP statuses. */
export const ERROR_STATUS = {
  proxy_auth_required: 407,
  host_not_allowed: 403,
  policy_denied: 403,
  approval_denied: 403,
  approval_expired: 403,
  private_address: 403,
  secret_host_mismatch: 403,
  secret_misplaced: 403,
  rate_limited: 429,
  too_many_pending: 429,
  bad_request: 400,
  payload_too_large: 413,
  request_timeout: 408,
  upstream_unreachable: 502,
  upstream_tls: 502,
  gateway_shutting_down: 503,
  internal_error: 500,
} as const;

export type GatewayErrorCode = keyof typeof ERROR_STATUS;

/** Context attached to an error sent to the agent. */
export interface ErrorContext {
  readonly policy?: string;
  readonly rule?: string;
  readonly approval?: string;
  /** Seconds, for `rate_limited`. */
  readonly retryAfter?: number;
}

/** A refusal the gateway sends to the agent instead of forwarding. */
export class GatewayError extends Error {
  override readonly name = "GatewayError";
  readonly status: number;
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    readonly context: ErrorContext = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.status = ERROR_STATUS[code];
  }

  /** The JSON body sent to the agent. */
  toBody(): string {
    const { policy, rule, approval } = this.context;
    return JSON.stringify({ error: { code: this.code, message: this.message, policy, rule, approval } });
  }

  /** Response headers that go with the body. */
  headers(): Record<string, string> {
    const h: Record<string, string> = {
      "content-type": "application/json",
      "x-warden-error": this.code,
      "cache-control": "no-store",
    };
    if (this.code === "proxy_auth_required") h["proxy-authenticate"] = 'Basic realm="warden"';
    if (this.context.retryAfter !== undefined) h["retry-after"] = String(this.context.retryAfter);
    return h;
  }
}
