/**
 * The runner's one error class. Callers branch on `code`; messages are for people and never carry a
 * header value (placeholders are not secrets, but the habit keeps logs boring).
 */

/** Stable codes for failures inside the agent runner. */
export type RunnerErrorCode =
  | "proxy_unreachable" // the forwarder/gateway did not answer (connection refused, reset, timeout)
  | "mailbox_rejected" // warden.internal answered with a status the protocol does not allow
  | "model_error" // the model endpoint answered with an error or unusable JSON
  | "provider_unavailable" // the provider's package or configuration is missing
  | "path_outside_workspace" // a file tool was pointed outside /workspace and /tmp
  | "bad_config"; // an environment value could not be used

/** An error raised by the runner; `code` is stable, `cause` is always passed when there is one. */
export class RunnerError extends Error {
  override readonly name = "RunnerError";
  constructor(
    readonly code: RunnerErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
