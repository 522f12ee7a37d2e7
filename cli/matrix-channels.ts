/**
 * `warden start` wiring for Matrix (bot/channels/matrix/): settings from cli/chat-settings.ts
 * (`MATRIX_HOMESERVER_URL`, `MATRIX_USER_ID`, `MATRIX_ACCESS_TOKEN` from the environment or else
 * the Warden secret of that name, read when the channel starts). The token goes only to the
 * channel's client, never to `say` or the log. Room invites (not DMs) are joined only from people
 * this Warden knows as owner or admin, so strangers cannot pull the bot into their rooms.
 */
import type { Channel, SentRef } from "../bot/channel.js";
import { createMatrixChannel } from "../bot/channels/matrix/index.js";
import type { Log } from "../gateway/index.js";

export interface MatrixSettings {
  /** `MATRIX_HOMESERVER_URL`, e.g. https://matrix.example.org. */
  readonly homeserverUrl: string;
  /** `MATRIX_USER_ID`, the bot account: @warden:example.org. */
  readonly userId: string;
  /** `MATRIX_ACCESS_TOKEN` from the environment; else the Warden secret of that name. */
  readonly accessToken?: string;
}

export interface MatrixContext {
  readonly log: Log;
  readonly isCard: (ref: SentRef) => boolean;
  readonly secret?: (name: string) => string | undefined;
  /** The role this Warden gives an identity (`matrix:@…`), if any. */
  readonly roleOf?: (identity: string) => Promise<string | undefined>;
}

export function matrixChannels(s: { readonly matrix?: MatrixSettings }, o: MatrixContext): Channel[] {
  if (!s.matrix) return [];
  const { homeserverUrl, userId, accessToken } = s.matrix;
  return [
    createMatrixChannel({
      homeserverUrl,
      userId,
      accessToken: accessToken ?? (() => o.secret?.("MATRIX_ACCESS_TOKEN")),
      log: o.log,
      isCard: o.isCard,
      mayInvite: async (identity) => ["owner", "admin"].includes((await o.roleOf?.(identity)) ?? ""),
    }),
  ];
}
