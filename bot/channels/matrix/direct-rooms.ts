/**
 * Which room is a person's private chat with the bot, and opening one when there is none.
 *
 * A room is `@ann:server`'s DM when the bot's `m.direct` account data lists it under her AND its
 * members (joined or invited) are exactly the bot and her. The member check matters: "private"
 * unlocks `/secret set` and private answers, so a DM into which a third person was invited stops
 * being private at once (its messages are then group messages, and cards for her go to a new DM).
 * Encrypted rooms are never chosen for sending (the bot has no keys: it could not write there).
 * Untrusted: membership and m.direct content come from the homeserver (trusted) but people choose
 * who is in a room; the lists are parsed defensively. Opens are serialised per person so two cards
 * at once do not open two rooms.
 */
import { EventType, type MatrixClient, type Room } from "matrix-js-sdk";
import { isRoomId, isUserId } from "./inbound.js";

export interface DirectRooms {
  /** The person whose DM `room` is, if it is one now (the SDK's Room: a brand-new one is not stored yet). */
  personOf(room: Room): string | undefined;
  /** The person's DM room to send in, opened (and listed in m.direct) when there is none. */
  roomFor(user: string): Promise<string>;
  /** Lists `roomId` as `user`'s DM (after joining from their direct invite). */
  remember(user: string, roomId: string): Promise<void>;
}

export function createDirectRooms(client: MatrixClient, me: string): DirectRooms {
  const opening = new Map<string, Promise<string>>();
  /** Rooms opened or joined as DMs since start, before m.direct comes back through /sync. */
  const recent = new Map<string, string[]>();
  /**
   * DMs whose first events came in before the SDK stored the brand-new room (it stores it after
   * handing out that sync's events): an answer to such a message goes back there, not to a new DM.
   */
  const unstored = new Map<string, string>();

  function directMap(): Record<string, string[]> {
    const content = client.getAccountData(EventType.Direct)?.getContent() as
      | Record<string, unknown>
      | undefined;
    const out: Record<string, string[]> = {};
    for (const [user, rooms] of Object.entries(content ?? {}))
      if (isUserId(user) && Array.isArray(rooms))
        out[user] = rooms.filter((r): r is string => typeof r === "string" && isRoomId(r));
    for (const [user, rooms] of recent) out[user] = [...new Set([...(out[user] ?? []), ...rooms])];
    return out;
  }

  /** Joined or invited members other than the bot; undefined when the room is unknown. */
  function others(room: Room | null): string[] | undefined {
    if (room?.getMyMembership() !== "join") return undefined;
    const present = [...room.getMembersWithMembership("join"), ...room.getMembersWithMembership("invite")];
    return present.map((m) => m.userId).filter((u) => u !== me);
  }

  const isDmWith = (roomId: string, user: string): boolean => {
    const o = others(client.getRoom(roomId));
    return o !== undefined && o.length === 1 && o[0] === user;
  };

  async function open(user: string): Promise<string> {
    const { room_id } = await client.createRoom({
      is_direct: true,
      invite: [user],
      preset: "trusted_private_chat" as never,
      visibility: "private" as never,
    });
    await remember(user, room_id);
    return room_id;
  }

  async function remember(user: string, roomId: string): Promise<void> {
    recent.set(user, [...(recent.get(user) ?? []), roomId]);
    const map = directMap();
    await client.setAccountData(EventType.Direct, {
      ...map,
      [user]: [...new Set([...(map[user] ?? []), roomId])],
    });
  }

  return {
    personOf(room) {
      const o = others(room);
      if (o?.length !== 1) return undefined;
      const user = o[0] as string;
      if (!directMap()[user]?.includes(room.roomId)) return undefined;
      if (!client.getRoom(room.roomId)) unstored.set(user, room.roomId);
      return user;
    },
    async roomFor(user) {
      const found = (directMap()[user] ?? []).find(
        (r) => isDmWith(r, user) && !client.getRoom(r)?.hasEncryptionStateEvent(),
      );
      if (found) return found;
      // Just opened (the room reaches us through /sync a moment later): use it.
      const fresh = [...(recent.get(user) ?? []), unstored.get(user) ?? ""].find(
        (r) => r !== "" && !client.getRoom(r),
      );
      if (fresh) return fresh;
      let p = opening.get(user);
      if (!p) {
        p = open(user).finally(() => opening.delete(user));
        opening.set(user, p);
      }
      return p;
    },
    remember,
  };
}
