/**
 * `warden doctor` for X: one authenticated `GET /2/users/me` through the channel's own client
 * (x-api.ts). Only a stable code and the bot's @username come back: never a key, a token or X's
 * own words.
 */
import { createXApi, XApiError, type XCredentials } from "./x-api.js";

export type XCheck =
  | { readonly ok: true; readonly who: string }
  | { readonly ok: false; readonly code: string };

export async function checkX(c: XCredentials): Promise<XCheck> {
  try {
    const me = await createXApi(c).me();
    return { ok: true, who: `@${me.username} (x:${me.id})` };
  } catch (err) {
    return { ok: false, code: err instanceof XApiError ? err.message : "x_failed" };
  }
}
