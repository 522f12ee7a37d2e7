/**
 * `warden doctor` for iMessage: `GET /api/v1/server/info` on the user's BlueBubbles server through
 * the channel's own client. Only a stable code and the server's version come back: never the
 * password (it rides in the URL, which is never shown either).
 */
import { BlueBubblesError, createBlueBubbles } from "./bluebubbles.js";

export type BlueBubblesCheck =
  | { readonly ok: true; readonly detail: string }
  | { readonly ok: false; readonly code: string };

export async function checkBlueBubbles(
  url: string,
  password: string,
  timeoutMs = 10_000,
): Promise<BlueBubblesCheck> {
  try {
    const info = await createBlueBubbles({ url, password, timeoutMs }).info();
    const version =
      info.serverVersion && /^[0-9A-Za-z.+-]{1,30}$/.test(info.serverVersion) ? ` ${info.serverVersion}` : "";
    return {
      ok: true,
      detail: `BlueBubbles server${version} answered${info.privateApi ? " (Private API on)" : ""}`,
    };
  } catch (err) {
    return { ok: false, code: err instanceof BlueBubblesError ? err.message : "bb_failed" };
  }
}
