/**
 * Google Chat through `@chat-adapter/gchat`, configured as a Google Workspace add-on (the only
 * envelope the adapter reads). The only importer of the Google Chat adapter and google-auth-library.
 *
 * - Outbound tokens: our own JWT-bearer grant signed with the service account's key
 *   (`GOOGLE_CHAT_CREDENTIALS`) and posted to the credentials' `token_uri`, handed to the adapter as
 *   an OAuth2 client's refresh handler, so the token endpoint is the one in the user's own file
 *   (a fake in tests) and the key never reaches the googleapis client. Token answers are untrusted.
 * - Inbound: our listener verifies the Chat JWT first (bot/webhooks/jwt-verifiers.ts, `aud` = the
 *   project number, keys from `GOOGLE_CHAT_CERTS_URL`); the adapter verifies it again with the same
 *   certificates (its own download URL is hard-coded, so its fetch is replaced by ours).
 * - Every other adapter setting that it would read from the environment (Pub/Sub, impersonation,
 *   "disable verification") is pinned off here: Warden reads only what it documents.
 * - Card and message text: Google Chat renders `*bold*`, `_italic_`, `~strike~`, code, `<users/…>`
 *   mentions and `<url|label>` links in messages, and HTML in card text: those characters are
 *   swapped for same-length lookalikes, so anyone's words render as the words they are.
 */
import { createSign } from "node:crypto";
import { createGoogleChatAdapter } from "@chat-adapter/gchat";
import { ConsoleLogger } from "chat";
import { OAuth2Client } from "google-auth-library";
import { z } from "zod";
import { googleChatVerifier } from "../../webhooks/jwt-verifiers.js";
import { splitText } from "../text.js";
import type { ButtonCardLimits } from "./button-card.js";
import type { ChatSdkPlatform } from "./chat-sdk-channel.js";

export interface GoogleChatSettings {
  /** `GOOGLE_CHAT_CREDENTIALS`: the service account's JSON key (client_email, private_key, token_uri). */
  readonly credentials: string;
  /** `GOOGLE_CHAT_PROJECT_NUMBER`: the audience of Chat's webhook tokens. */
  readonly projectNumber: string;
  /** Where Google calls for button clicks: `WARDEN_PUBLIC_URL` + `/webhooks/gchat`. */
  readonly endpointUrl: string;
  /** `GOOGLE_CHAT_API_URL`: the Chat API root (default https://chat.googleapis.com/). */
  readonly apiUrl?: string;
  /** `GOOGLE_CHAT_CERTS_URL`: chat@system.gserviceaccount.com's X.509 certificates. */
  readonly certsUrl?: string;
}

const CHAT_CERTS =
  "https://www.googleapis.com/service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com";
/** The one scope the app asks for: to act as the Chat app itself (no user data). */
export const GCHAT_SCOPE = "https://www.googleapis.com/auth/chat.bot";
/** A message is at most 4,096 characters of text, 32,000 bytes with cards (UTF-8: up to 3 per char). */
const GCHAT_MAX_TEXT = 4000;

/** Chat message markup and card HTML, each swapped for a same-length lookalike. */
const SWAP: Readonly<Record<string, string>> = {
  "*": "∗",
  _: "＿",
  "~": "∼",
  "`": "ˋ",
  "<": "‹",
  ">": "›",
  "&": "＆",
  "[": "［",
  "]": "］",
};

export const GCHAT_CARD: ButtonCardLimits = {
  bodyMax: 6000,
  maxButtons: 5,
  titleMax: 40,
  swap: SWAP,
  linkButton: true,
};

/**
 * Text that renders as itself. Inside a bare http(s) link `_`, `~` and `&` stay (they are part of
 * the address, and Chat formats nothing inside a link); everywhere else every markup character goes.
 */
export function gchatPlainParts(text: string): string[] {
  const neutral = text
    .split(/(https?:\/\/[^\s<>*`[\]]+)/)
    .map((part, i) => part.replace(i % 2 === 1 ? /[<>*`[\]]/g : /[*_~`<>&[\]]/g, (c) => SWAP[c] ?? c))
    .join("");
  return splitText(neutral, GCHAT_MAX_TEXT);
}

const Credentials = z.object({
  client_email: z.string().regex(/^[^\s@]+@[^\s@]+$/),
  private_key: z.string().includes("PRIVATE KEY"),
  token_uri: z.url().default("https://oauth2.googleapis.com/token"),
});

/** Parses the credentials JSON; errors never quote it (it holds the private key). */
export function parseGoogleCredentials(json: string): z.infer<typeof Credentials> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error("GOOGLE_CHAT_CREDENTIALS is not JSON (a service account key file's contents)");
  }
  const c = Credentials.safeParse(raw);
  if (!c.success) throw new Error("GOOGLE_CHAT_CREDENTIALS needs client_email, private_key and token_uri");
  const u = new URL(c.data.token_uri);
  const loopback = u.hostname === "127.0.0.1" || u.hostname === "localhost" || u.hostname === "[::1]";
  // The signed assertion is as good as a token for an hour: only over TLS, or to this machine.
  if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback))
    throw new Error("GOOGLE_CHAT_CREDENTIALS token_uri must be https");
  return c.data;
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** The OAuth 2.0 JWT-bearer grant (RFC 7523) a service account uses, against `token_uri`. */
export function googleTokenSource(
  c: z.infer<typeof Credentials>,
): () => Promise<{ access_token: string; expiry_date: number }> {
  return async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64url({ alg: "RS256", typ: "JWT" })}.${b64url({
      iss: c.client_email,
      scope: GCHAT_SCOPE,
      aud: c.token_uri,
      iat: now,
      exp: now + 3600,
    })}`;
    let sig: string;
    try {
      sig = createSign("RSA-SHA256").update(unsigned).sign(c.private_key, "base64url");
    } catch {
      throw new Error("GOOGLE_CHAT_CREDENTIALS private_key is not a usable RSA key");
    }
    const res = await fetch(c.token_uri, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion: `${unsigned}.${sig}`,
      }),
      redirect: "error",
      signal: AbortSignal.timeout(15_000),
    });
    // Never quote the answer: an error page could echo what we sent.
    if (!res.ok) throw new Error(`Google token endpoint answered ${res.status}`);
    const body = (await res.json().catch(() => undefined)) as
      | { access_token?: unknown; expires_in?: unknown }
      | undefined;
    const token = body?.access_token;
    if (typeof token !== "string" || !/^[\x21-\x7e]{8,4096}$/.test(token))
      throw new Error("Google token endpoint gave no usable token");
    const life = typeof body?.expires_in === "number" ? body.expires_in : 3600;
    return { access_token: token, expiry_date: Date.now() + Math.max(0, life - 60) * 1000 };
  };
}

/** Fetches chat@system's certificates (kid → PEM), cached an hour like the adapter's own cache. */
function certSource(url: string): () => Promise<Record<string, string>> {
  let cache: { at: number; certs: Record<string, string> } | undefined;
  return async () => {
    if (cache && Date.now() - cache.at < 3600_000) return cache.certs;
    const res = await fetch(url, { redirect: "error", signal: AbortSignal.timeout(10_000) });
    const doc = (await res.json().catch(() => undefined)) as unknown;
    if (!res.ok || !doc || typeof doc !== "object") throw new Error("certificate list unavailable");
    const certs = Object.fromEntries(
      Object.entries(doc).filter((e): e is [string, string] => typeof e[1] === "string"),
    );
    cache = { at: Date.now(), certs };
    return certs;
  };
}

export function gchatPlatform(s: GoogleChatSettings): ChatSdkPlatform {
  if (!/^\d{1,20}$/.test(s.projectNumber)) throw new Error("GOOGLE_CHAT_PROJECT_NUMBER must be digits");
  const auth = new OAuth2Client();
  auth.refreshHandler = googleTokenSource(parseGoogleCredentials(s.credentials));
  const certsUrl = s.certsUrl ?? CHAT_CERTS;
  const adapter = createGoogleChatAdapter({
    auth,
    googleChatProjectNumber: s.projectNumber,
    apiUrl: s.apiUrl ?? "https://chat.googleapis.com/",
    // Pinned so the adapter's own environment fallbacks cannot switch anything on.
    disableSignatureVerification: false,
    pubsubTopic: "",
    pubsubAudience: "",
    pubsubServiceAccountEmail: "",
    workspaceAddOnServiceAccountEmail: "",
    impersonateUser: "",
    logger: new ConsoleLogger("silent"),
  });
  const inner = adapter as unknown as {
    getChatIssuerCerts: () => Promise<Record<string, string>>;
    inferredEndpointUrl?: string;
  };
  inner.getChatIssuerCerts = certSource(certsUrl);
  // Buttons name the URL Google calls on a click. Not `endpointUrl`: that option also makes the
  // adapter accept (and download keys for) Google OIDC tokens, a second way in we do not verify.
  inner.inferredEndpointUrl = s.endpointUrl;
  return {
    platform: "gchat",
    adapter,
    verifier: googleChatVerifier({ projectNumber: s.projectNumber, certsUrl }),
    maxText: GCHAT_MAX_TEXT,
    card: GCHAT_CARD,
    textParts: gchatPlainParts,
    // Taps report the card's thread as `space + thread name`: the card's ref uses the same form.
    cardChatId: (raw, chatId) => {
      const m = raw as { name?: unknown; thread?: { name?: unknown } } | undefined;
      const space =
        typeof m?.name === "string" ? /^(spaces\/[^/]+)\/messages\//.exec(m.name)?.[1] : undefined;
      const thread = typeof m?.thread?.name === "string" ? m.thread.name : m?.name;
      return space && typeof thread === "string"
        ? adapter.encodeThreadId({ spaceName: space, threadName: thread })
        : chatId;
    },
    // A person's `users/<id>`; the adapter finds the app's existing DM space with them.
    openDm: async (userId) => {
      if (!/^users\/\d{1,30}$/.test(userId)) throw new Error("not a Google Chat user id");
      return adapter.openDM(userId);
    },
  };
}
