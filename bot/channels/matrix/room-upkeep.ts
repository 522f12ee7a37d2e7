/**
 * Invites and encrypted rooms: what the bot does when it is pulled into a room, and when a room
 * sends it something it cannot read.
 *
 * Invites (the inviter is vouched for by the homeserver; what they invite to is theirs to choose):
 * a direct invite (`is_direct`) is joined and listed in m.direct, so anyone can open a DM and then
 * gets the usual stranger treatment; an invite to a room is joined only when `mayInvite` accepts
 * the inviter (an owner or admin, as wired by `warden start`), and declined otherwise, so strangers
 * cannot pull the bot into their rooms. Encrypted rooms: the bot has no keys (no crypto store), so
 * the first encrypted event in a room gets one plain notice saying so; the SDK refuses unencrypted
 * sends into encrypted rooms, so that notice goes through the SDK's authed HTTP client directly.
 */
import type { MatrixClient, Room } from "matrix-js-sdk";
import { textContent } from "./card-content.js";
import type { DirectRooms } from "./direct-rooms.js";
import { isUserId } from "./inbound.js";

export const ENCRYPTED_NOTICE =
  "I cannot read end-to-end encrypted messages, so I did not see that. Talk to me in a room without encryption (start a direct chat with encryption turned off).";

export interface RoomUpkeepDeps {
  readonly me: string;
  readonly client: () => { c: MatrixClient; d: DirectRooms };
  readonly call: <T>(what: string, f: () => Promise<T>) => Promise<T>;
  readonly mayInvite?: (identity: string) => Promise<boolean>;
  readonly log: (event: string, fields: Record<string, unknown>) => void;
}

export interface RoomUpkeep {
  onInvite(room: Room): Promise<void>;
  /** An encrypted event arrived in `roomId`: says once per room that Warden cannot read it. */
  encrypted(roomId: string): void;
}

export function createRoomUpkeep(deps: RoomUpkeepDeps): RoomUpkeep {
  const noticed = new Set<string>();
  const { me, call, log } = deps;
  return {
    async onInvite(room) {
      const { c, d } = deps.client();
      const invite = room.getMember(me)?.events.member;
      const inviter = invite?.getSender();
      if (!inviter || !isUserId(inviter)) return;
      const isDirect = invite?.getContent().is_direct === true;
      if (!isDirect && (await deps.mayInvite?.(`matrix:${inviter}`)) !== true) {
        log("matrix.invite_declined", { direct: false });
        await call("leave", () => c.leave(room.roomId));
        return;
      }
      await call("join", () => c.joinRoom(room.roomId));
      if (isDirect) await call("setAccountData", () => d.remember(inviter, room.roomId));
      log("matrix.invite_joined", { direct: isDirect });
    },
    encrypted(roomId) {
      if (noticed.has(roomId)) return;
      noticed.add(roomId);
      log("matrix.encrypted_room", {});
      const { c } = deps.client();
      const txn = `warden-e2e-${Date.now()}-${noticed.size}`;
      const path = `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${encodeURIComponent(txn)}`;
      const body = textContent(ENCRYPTED_NOTICE);
      call("send", () => c.http.authedRequest("PUT" as never, path, undefined, body)).catch((err: Error) =>
        log("matrix.notice_failed", { error: err.message }),
      );
    },
  };
}
