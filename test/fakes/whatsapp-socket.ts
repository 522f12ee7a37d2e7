/**
 * A fake WhatsApp Web account for tests, built on baileys' OWN event machinery (`makeEventBuffer`)
 * and protobufs (`proto.WebMessageInfo.fromObject`), emitting events shaped as baileys 7 emits them
 * after decoding: `messages.upsert` (type "notify") for texts, quoted replies, mentions and
 * reactions (plus the `messages.reaction` baileys also emits), our own sends echoed back as
 * `append`, and `connection.update` (qr, open, close with a Boom-shaped status code). It records
 * every `sendMessage` and keeps each message's current text after edits and deletes, as a phone
 * would show it. No network: writing a fake WhatsApp server is not realistic (Noise + Signal).
 *
 *   const wa = createFakeWhatsApp({ me: "15550000000" });
 *   const channel = createWhatsAppChannel({ connect: wa.connect, sleep: async () => {} });
 *   wa.groupText(GROUP, "447700900123", "@15550000000 hello", { mentions: [wa.me] });
 */
import {
  type AnyMessageContent,
  type BaileysEventMap,
  generateMessageIDV2,
  type MiscMessageGenerationOptions,
  makeEventBuffer,
  proto,
  type WAMessage,
  type WAMessageKey,
  type WAPresence,
} from "baileys";
import type { WhatsAppSocket } from "../../bot/channels/whatsapp/index.js";

export interface FakeWhatsAppOptions {
  /** Our own phone number (digits). */
  readonly me?: string;
  readonly meLid?: string;
  /** Whether we are an admin of every group (deleting others' messages needs it). */
  readonly groupAdmin?: boolean;
  /** Phone numbers (digits) that have no WhatsApp account; `onWhatsApp` does not list them. */
  readonly unregistered?: readonly string[];
}

/** How a sender is addressed: by phone number (default), or by LID with or without the number. */
export interface SenderOptions {
  readonly name?: string;
  readonly lid?: string;
  readonly hideNumber?: boolean;
}

export interface FakeSend {
  readonly jid: string;
  readonly content: AnyMessageContent;
  readonly options?: MiscMessageGenerationOptions;
  readonly message: WAMessage;
  readonly kind: "text" | "edit" | "delete" | "other";
}

type Stored = { key: WAMessageKey; chat: string; text: string; deleted: boolean; fromMe: boolean };

const silent = {
  level: "silent",
  child: () => silent,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** A Boom-shaped error, as baileys puts in `lastDisconnect.error` and throws from sendMessage. */
export function boomLike(statusCode: number, message = "Connection Failure"): Error {
  return Object.assign(new Error(message), { isBoom: true, output: { statusCode, payload: { statusCode } } });
}

export function createFakeWhatsApp(opts: FakeWhatsAppOptions = {}) {
  const me = `${opts.me ?? "15550000000"}@s.whatsapp.net`;
  const meLid = `${opts.meLid ?? "987650000000001"}@lid`;
  const sent: FakeSend[] = [];
  const lookups: string[] = [];
  const presences: { type: string; jid: string }[] = [];
  const messages = new Map<string, Stored>();
  const sockets: ReturnType<typeof makeSocket>[] = [];
  const failures: Error[] = [];
  let connectFailures = 0;
  const seconds = () => Math.floor(Date.now() / 1000);
  const newId = () => generateMessageIDV2(me);

  function makeSocket() {
    const ev = makeEventBuffer(silent);
    const sock = {
      ev,
      ended: false,
      user: {
        id: `${me.split("@")[0]}:7@s.whatsapp.net`,
        lid: `${meLid.split("@")[0]}:7@lid`,
        name: "Warden",
      },
      async sendMessage(jid: string, content: AnyMessageContent, options?: MiscMessageGenerationOptions) {
        if (sock.ended) throw boomLike(428, "Connection Closed");
        const failure = failures.shift();
        if (failure) throw failure;
        const message = record(jid, content, options);
        // baileys (emitOwnEvents) echoes our own sends back as an "append" upsert, fromMe.
        process.nextTick(
          () => !sock.ended && ev.emit("messages.upsert", { messages: [message], type: "append" }),
        );
        return message;
      },
      async sendPresenceUpdate(type: WAPresence, jid?: string) {
        presences.push({ type, jid: jid ?? "" });
      },
      // As baileys' usync query answers: only the numbers that have an account are listed.
      async onWhatsApp(...jids: string[]) {
        lookups.push(...jids);
        return jids
          .filter((j) => !opts.unregistered?.includes(j.split("@")[0] as string))
          .map((jid) => ({ jid, exists: true }));
      },
      async end(error: Error | undefined) {
        if (sock.ended) return;
        sock.ended = true;
        ev.emit("connection.update", { connection: "close", lastDisconnect: { error, date: new Date() } });
        ev.removeAllListeners("connection.update");
      },
    };
    return sock;
  }

  function record(
    jid: string,
    content: AnyMessageContent,
    options?: MiscMessageGenerationOptions,
  ): WAMessage {
    const key: WAMessageKey = { remoteJid: jid, fromMe: true, id: newId() };
    let kind: FakeSend["kind"] = "other";
    let message: proto.IMessage = {};
    if ("delete" in content && content.delete) {
      kind = "delete";
      const target = content.delete.id ? messages.get(content.delete.id) : undefined;
      const group = jid.endsWith("@g.us");
      if (target && !target.fromMe && !(group && opts.groupAdmin)) throw boomLike(403, "not-authorized");
      if (target && target.chat === jid && (target.fromMe || group)) target.deleted = true;
      message = { protocolMessage: { key: content.delete, type: proto.Message.ProtocolMessage.Type.REVOKE } };
    } else if ("edit" in content && content.edit && "text" in content) {
      kind = "edit";
      const target = content.edit.id ? messages.get(content.edit.id) : undefined;
      // WhatsApp applies an edit only to our own message, in the chat it names.
      if (target?.fromMe && content.edit.fromMe && content.edit.remoteJid === jid && target.chat === jid)
        target.text = content.text;
      const editedMessage = { conversation: content.text };
      message = {
        protocolMessage: {
          key: content.edit,
          type: proto.Message.ProtocolMessage.Type.MESSAGE_EDIT,
          editedMessage,
        },
      };
    } else if ("text" in content) {
      kind = "text";
      const q = options?.quoted;
      message = q
        ? {
            extendedTextMessage: {
              text: content.text,
              contextInfo: { stanzaId: q.key.id, participant: me, quotedMessage: q.message },
            },
          }
        : { conversation: content.text };
      messages.set(key.id as string, { key, chat: jid, text: content.text, deleted: false, fromMe: true });
    }
    const m = proto.WebMessageInfo.fromObject({
      key,
      message,
      messageTimestamp: seconds(),
      status: proto.WebMessageInfo.Status.PENDING,
      ...(jid.endsWith("@g.us") ? { participant: me } : {}),
    }) as WAMessage;
    sent.push({ jid, content, ...(options ? { options } : {}), message: m, kind });
    return m;
  }

  const current = () => sockets[sockets.length - 1];

  /** Delivers an inbound message as baileys does after decrypting it. */
  function deliver(chat: string, from: string, message: proto.IMessage, o: DeliveryOptions = {}): WAMessage {
    const group = !/@(s\.whatsapp\.net|lid)$/.test(chat); // groups, and status / newsletters
    const pn = `${from}@s.whatsapp.net`;
    const lid = o.lid ? `${o.lid}@lid` : undefined;
    const addr = lid ?? pn;
    const alt = lid && !o.hideNumber ? pn : undefined;
    const key: WAMessageKey = group
      ? { remoteJid: chat, fromMe: false, id: newId(), participant: addr }
      : { remoteJid: addr, fromMe: false, id: newId() };
    const m = proto.WebMessageInfo.fromObject({
      key,
      message,
      messageTimestamp: o.timestamp ?? seconds(),
      pushName: o.name ?? `User ${from.slice(-4)}`,
    }) as WAMessage;
    // baileys 7 adds these to the key after decoding (not protobuf fields).
    Object.assign(m.key, {
      addressingMode: lid ? "lid" : "pn",
      ...(alt ? (group ? { participantAlt: alt } : { remoteJidAlt: alt }) : {}),
    });
    const text = message.conversation ?? message.extendedTextMessage?.text;
    if (typeof text === "string")
      messages.set(m.key.id as string, {
        key: m.key,
        chat: group ? chat : pn,
        text,
        deleted: false,
        fromMe: false,
      });
    const s = current();
    if (s && !s.ended) s.ev.emit("messages.upsert", { messages: [m], type: o.type ?? "notify" });
    return m;
  }

  const quoteOf = (key: WAMessageKey) => ({
    stanzaId: key.id,
    participant: key.fromMe ? me : (key.participant ?? key.remoteJid),
    quotedMessage: { conversation: (key.id && messages.get(key.id)?.text) || "" },
  });

  function text(chat: string, from: string, body: string, o: GroupTextOptions = {}): WAMessage {
    const contextInfo = {
      ...(o.mentions ? { mentionedJid: [...o.mentions] } : {}),
      ...(o.quoted ? quoteOf(o.quoted) : {}),
    };
    const message = Object.keys(contextInfo).length
      ? { extendedTextMessage: { text: body, contextInfo } }
      : { conversation: body };
    return deliver(chat, from, message, o);
  }

  return {
    /** Our own jids: phone number and LID. */
    me,
    meLid,
    /** The channel's `connect`: every call builds a fresh socket (a reconnect). */
    async connect(): Promise<WhatsAppSocket> {
      if (connectFailures > 0) {
        connectFailures--;
        throw new Error("could not reach WhatsApp");
      }
      const s = makeSocket();
      sockets.push(s);
      return s;
    },
    /** A fresh socket, synchronously: stands in for baileys' makeWASocket in connect.ts. */
    makeSocket() {
      const s = makeSocket();
      sockets.push(s);
      return s;
    },
    sockets,
    socket: current,
    /** Every jid `onWhatsApp` was asked about. */
    lookups,
    /** Every presence update sent ("composing" = typing…). */
    presences,
    sent,
    privateText: (from: string, body: string, o: GroupTextOptions = {}) =>
      text(`${from}@s.whatsapp.net`, from, body, o),
    groupText: (groupJid: string, from: string, body: string, o: GroupTextOptions = {}) =>
      text(groupJid, from, body, o),
    /** A quoted reply to `quotedKey` in `chatJid` (a group, or the sender's private chat). */
    reply: (from: string, chatJid: string, quotedKey: WAMessageKey, body: string, o: SenderOptions = {}) =>
      text(chatJid, from, body, { ...o, quoted: quotedKey }),
    /** A reaction; "" removes it. Emits the upsert and the `messages.reaction` baileys derives from it. */
    react(from: string, chatJid: string, key: WAMessageKey, emoji: string, o: SenderOptions = {}): WAMessage {
      // As baileys normalises it: fromMe from OUR perspective, the chat as remoteJid.
      const group = chatJid.endsWith("@g.us");
      const participant = key.fromMe ? me : key.participant;
      const target = {
        remoteJid: chatJid,
        fromMe: !!key.fromMe,
        id: key.id,
        ...(group ? { participant } : {}),
      };
      const m = deliver(
        chatJid,
        from,
        { reactionMessage: { key: target, text: emoji, senderTimestampMs: Date.now() } },
        o,
      );
      const s = current();
      if (s && !s.ended)
        s.ev.emit("messages.reaction", [{ key: target, reaction: { key: m.key, text: emoji } }]);
      return m;
    },
    /** Delivers any message content (protocol, stubs, wrappers) from `from` in `chat`. */
    raw: (chat: string, from: string, message: proto.IMessage, o: DeliveryOptions = {}) =>
      deliver(chat, from, message, o),
    /** Emits any baileys event on the current socket. */
    emit<E extends keyof BaileysEventMap>(event: E, data: BaileysEventMap[E]): void {
      const s = current();
      if (s && !s.ended) s.ev.emit(event, data);
    },
    /** The key of a message by id (ours or someone's). */
    keyOf: (id: string): WAMessageKey | undefined => messages.get(id)?.key,
    /** The text a phone shows now for message `id` (after edits); undefined once deleted. */
    current(id: string): string | undefined {
      const m = messages.get(id);
      return m && !m.deleted ? m.text : undefined;
    },
    isDeleted: (id: string): boolean => messages.get(id)?.deleted === true,
    /** Our messages (not edits or deletes) in one chat, oldest first, as they read now. */
    textsIn: (jid: string): string[] =>
      [...messages.values()].filter((m) => m.fromMe && m.chat === jid && !m.deleted).map((m) => m.text),
    qr: (code = "2@fake-qr-ref,fake-noise-key,fake-identity-key,fake-adv") =>
      current()?.ev.emit("connection.update", { qr: code, connection: "connecting" }),
    open: () => current()?.ev.emit("connection.update", { connection: "open" }),
    /** The server closes the current socket with `statusCode` (baileys `DisconnectReason`). */
    disconnect(statusCode: number): void {
      const s = current();
      if (!s || s.ended) return;
      s.ended = true;
      s.ev.emit("connection.update", {
        connection: "close",
        lastDisconnect: { error: boomLike(statusCode), date: new Date() },
      });
    },
    /** The next sends fail with these errors, in order. */
    failSends: (...errors: Error[]) => void failures.push(...errors),
    /** The next `n` connects reject. */
    failConnects(n: number): void {
      connectFailures = n;
    },
  };
}

/** Sender, plus how baileys delivers it: "notify" (live, default) or "append" (history, offline). */
export interface DeliveryOptions extends SenderOptions {
  readonly type?: "notify" | "append";
  /** Seconds since the epoch; default now. */
  readonly timestamp?: number;
}

export interface GroupTextOptions extends DeliveryOptions {
  readonly mentions?: readonly string[];
  readonly quoted?: WAMessageKey;
}

export type FakeWhatsApp = ReturnType<typeof createFakeWhatsApp>;
