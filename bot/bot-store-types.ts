/**
 * The bot's persistence seam (`BotStore`) and the records it speaks in, apart from the SQL behind
 * them (bot-store.ts) so fakes and readers need only the shape. Every call is async: the store may be
 * a SQLite file in this process or a PostgreSQL shared with other replicas.
 */
import type { Address, SentRef } from "./channel.js";
import type { QuietHours } from "./quiet-hours.js";

/** Ordered weakest first; a higher role includes every lower one. */
export const ROLES = ["member", "approver", "admin", "owner"] as const;
export type Role = (typeof ROLES)[number];

export interface Person {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  /** Platform for DMs: where they last linked or chose; null = any. */
  readonly preferred: string | null;
}

export type TokenKind = "claim" | "invite" | "link";

/** What a burned token carried. */
export interface TokenGrant {
  readonly role: Role | null;
  readonly person: string | null;
}

export interface CardRef {
  readonly to: Address;
  readonly ref: SentRef;
}

export interface BotStore {
  /** The person an identity (`<platform>:<userId>`) belongs to. */
  personOf(identity: string): Promise<Person | undefined>;
  person(id: string): Promise<Person | undefined>;
  /** By person id, identity, or exact (case-insensitive) name; undefined when none or ambiguous. */
  findPerson(nameOrId: string): Promise<Person | undefined>;
  /** Oldest first. */
  listPeople(): Promise<Person[]>;
  createPerson(identity: string, name: string, role: Role): Promise<Person>;
  setRole(person: string, role: Role): Promise<void>;
  setPreferred(person: string, platform: string): Promise<void>;
  /** Moves `identity` to `person` and makes its platform the preferred one for DMs. */
  linkIdentity(identity: string, person: string): Promise<void>;
  /** Most recently linked first. */
  identitiesOf(person: string): Promise<string[]>;
  /** Remembers the DM of `identity` (a thread in it is dropped: the DM itself is the private chat). */
  rememberPrivateChat(identity: string, chat: Address): Promise<void>;
  privateChatOf(identity: string): Promise<Address | undefined>;

  /** Issues a one-time token; only its hash is kept. */
  issueToken(
    kind: TokenKind,
    grant: Partial<TokenGrant> & { ttlMs: number },
    token?: string,
  ): Promise<string>;
  /** Burns the token whether or not it is still valid; returns what it carried when valid. */
  consumeToken(kind: TokenKind, token: string): Promise<TokenGrant | undefined>;

  addCardRef(approval: string, to: Address, ref: SentRef): Promise<void>;
  cardRefs(approval: string): Promise<CardRef[]>;
  /** The approval whose card is the message `ref` (for platforms that reply to a card, not tap it). */
  approvalOfCardRef(ref: SentRef): Promise<string | undefined>;

  /** The newest batch with `key`: its id, last arrival and size. */
  latestBatch(key: string): Promise<{ id: string; lastAt: number; size: number } | undefined>;
  /** Appends `approval` to `batch` (created when new); returns its 0-based position. */
  addBatchItem(batch: string, key: string, approval: string, at: number): Promise<number>;
  batchOf(approval: string): Promise<string | undefined>;
  /** The approvals of `batch` in the order they joined. */
  batchItems(batch: string): Promise<string[]>;
  /** Records (or redraws) a batch card message and how many items it shows now. */
  setBatchCard(batch: string, to: Address, ref: SentRef, drawn: number): Promise<void>;
  batchCards(batch: string): Promise<(CardRef & { drawn: number })[]>;
  /** The batch whose card is the message `ref`, and how many items it last showed. */
  batchOfCardRef(ref: SentRef): Promise<{ batch: string; drawn: number } | undefined>;

  /** A guided setup waiting for `by`'s next message in `chat` (kept across restarts). */
  beginSetup(
    chat: Address,
    by: string,
    kind: string,
    data: Record<string, string>,
    ttlMs: number,
  ): Promise<void>;
  /** The live setup in `chat` started by `by`, if any. Read for every chat message: one indexed read. */
  setupOf(chat: Address, by: string): Promise<{ kind: string; data: Record<string, string> } | undefined>;
  endSetup(chat: Address): Promise<void>;

  bind(agent: string, chat: Address): Promise<void>;
  /** Unbinds `agent` from `chat`, or from every chat. */
  unbind(agent: string, chat?: Address): Promise<void>;
  bindingsOf(agent: string): Promise<Address[]>;
  agentsBoundTo(chat: Address): Promise<string[]>;
  /** A person's quiet hours (bot/quiet-hours.ts); null turns them off. */
  setQuiet(person: string, quiet: QuietHours | null): Promise<void>;
  quietOf(person: string): Promise<QuietHours | undefined>;

  statePut(ns: string, key: string, value: string, expiresAt: number): Promise<void>;
  /** Expired rows read as absent. */
  stateGet(ns: string, key: string): Promise<string | undefined>;
  /** The live rows of `ns` (whose key starts with `prefix`), oldest expiry first. */
  stateList(ns: string, prefix?: string): Promise<{ key: string; value: string; expiresAt: number }[]>;
  /** True when this call deleted the row (first of racing callers). */
  stateDelete(ns: string, key: string): Promise<boolean>;
  /** Deletes every expired row (all namespaces). */
  statePrune(): Promise<void>;
  /** Closes this store's hold on the database (a shared SQLite file closes with its last user). */
  close(): Promise<void>;
}
