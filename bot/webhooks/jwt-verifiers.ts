/**
 * Verifiers for the platforms that sign with an RS256 JWT in `Authorization: Bearer …`: Microsoft
 * Teams (Bot Framework; keys from an OpenID metadata document's JWKS) and Google Chat (tokens
 * self-signed by chat@system.gserviceaccount.com; keys as X.509 certificates by `kid`). The token is
 * checked from the head alone, before a byte of body is read; the body is then bound to it where the
 * platform allows (Teams: the `serviceurl` claim). The only importer of `jose`.
 */
import { createHash } from "node:crypto";
import { createRemoteJWKSet, importX509, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import {
  headerOf,
  jsonObject,
  refused,
  type Verdict,
  type WebhookHead,
  type WebhookVerifier,
} from "./webhook-verifier.js";

const MAX_BODY = 256 * 1024;
/** The platforms' own clock tolerance (the Teams SDK's): 5 minutes. */
const TOLERANCE_S = 300;

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

function bearer(h: WebhookHead): string | undefined {
  const auth = headerOf(h.headers, "authorization");
  const m = auth ? /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(auth) : null;
  return m?.[1];
}

/** A well-signed token past its expiry is stale (400); anything else about it is a forgery (401). */
function jwtRefusal(err: unknown): Verdict {
  return (err as { code?: string }).code === "ERR_JWT_EXPIRED"
    ? refused(400, "stale")
    : refused(401, "bad_signature");
}

type Checked = { ok: true; claims: JWTPayload; token: string } | { ok: false; verdict: Verdict };

/** What differs between the bearer-JWT platforms; the head check, refusals and body parse are shared. */
interface BearerJwtPlatform {
  readonly platform: string;
  /** The key lookup (fetched lazily: a key server that is down refuses, never admits). */
  readonly keys: () => Promise<JWTVerifyGetKey> | JWTVerifyGetKey;
  readonly issuer: string;
  readonly audience: string | string[];
  /** Binds the verified token to the (JSON object) body: replay keys and expiry, or a refusal. */
  readonly bind: (claims: JWTPayload, token: string, body: Record<string, unknown>, raw: Buffer) => Verdict;
}

function bearerJwtVerifier(p: BearerJwtPlatform): WebhookVerifier {
  async function check(h: WebhookHead): Promise<Checked> {
    const token = bearer(h);
    if (!token) return { ok: false, verdict: refused(401, "unsigned") };
    try {
      const { payload } = await jwtVerify(token, await p.keys(), {
        algorithms: ["RS256"],
        issuer: p.issuer,
        audience: p.audience,
        clockTolerance: TOLERANCE_S,
      });
      return { ok: true, claims: payload, token };
    } catch (err) {
      return { ok: false, verdict: jwtRefusal(err) };
    }
  }
  return {
    platform: p.platform,
    maxBytes: MAX_BODY,
    async head(h) {
      if (h.method !== "POST") return refused(401, "unsigned");
      const c = await check(h);
      return c.ok ? undefined : c.verdict;
    },
    async verify(d) {
      const c = await check(d);
      if (!c.ok) return c.verdict;
      const body = jsonObject(d.body);
      return body ? p.bind(c.claims, c.token, body, d.body) : refused(400, "malformed");
    },
  };
}

export interface TeamsVerifierOptions {
  readonly appId: string;
  /** Default: Bot Framework's `https://login.botframework.com/v1/.well-known/openidconfiguration`. */
  readonly openIdMetadataUrl?: string;
}

/** Teams (Bot Framework): `iss` api.botframework.com, `aud` the app id, `serviceurl` = the body's. */
export function teamsVerifier(o: TeamsVerifierOptions): WebhookVerifier {
  const metadata = o.openIdMetadataUrl ?? "https://login.botframework.com/v1/.well-known/openidconfiguration";
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  async function keys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (jwks) return jwks;
    const res = await fetch(metadata, { signal: AbortSignal.timeout(10_000) });
    const doc = obj(await res.json());
    if (!res.ok || typeof doc?.jwks_uri !== "string") throw new Error("openid metadata without jwks_uri");
    jwks = createRemoteJWKSet(new URL(doc.jwks_uri), { timeoutDuration: 10_000 });
    return jwks;
  }
  return bearerJwtVerifier({
    platform: "teams",
    keys,
    issuer: "https://api.botframework.com",
    audience: [o.appId, `api://${o.appId}`, `api://botid-${o.appId}`],
    bind(claims, _token, activity) {
      // The token vouches for one connector: replies must not be steered to another.
      if (typeof activity.serviceUrl !== "string" || activity.serviceUrl !== claims.serviceurl)
        return refused(401, "wrong_audience");
      const id = typeof activity.id === "string" ? activity.id : undefined;
      const conversation = obj(activity.conversation)?.id;
      if (!id || typeof conversation !== "string") return refused(400, "malformed");
      // Bot Framework reuses a token for many activities: the activity id is what must not repeat.
      return {
        kind: "verified",
        replayKeys: [`activity:${conversation}:${id}`],
        expiresAtMs: (claims.exp ?? 0) * 1000,
      };
    },
  });
}

export interface GoogleChatVerifierOptions {
  readonly projectNumber: string;
  /** Default: Google's certificates for chat@system.gserviceaccount.com. */
  readonly certsUrl?: string;
}

const CHAT_ISSUER = "chat@system.gserviceaccount.com";

/** Google Chat (Workspace add-on endpoint): `iss` chat@system…, `aud` the project number. */
export function googleChatVerifier(o: GoogleChatVerifierOptions): WebhookVerifier {
  const certsUrl =
    o.certsUrl ?? `https://www.googleapis.com/service_accounts/v1/metadata/x509/${CHAT_ISSUER}`;
  let cache: { at: number; keys: Map<string, CryptoKey> } | undefined;
  async function keyFor(kid: string): Promise<CryptoKey | undefined> {
    if (!cache || Date.now() - cache.at > 3600_000 || !cache.keys.has(kid)) {
      // Refetch at most once a minute however many unknown kids arrive.
      if (cache && Date.now() - cache.at < 60_000) return cache.keys.get(kid);
      const res = await fetch(certsUrl, { signal: AbortSignal.timeout(10_000) });
      const doc = obj(await res.json());
      if (!res.ok || !doc) throw new Error("certificate list unavailable");
      const keys = new Map<string, CryptoKey>();
      for (const [k, pem] of Object.entries(doc))
        if (typeof pem === "string") keys.set(k, await importX509(pem, "RS256"));
      cache = { at: Date.now(), keys };
    }
    return cache.keys.get(kid);
  }
  return bearerJwtVerifier({
    platform: "gchat",
    keys: () => async (header) => {
      const key = header.kid ? await keyFor(header.kid) : undefined;
      if (!key) throw new Error("unknown key");
      return key;
    },
    issuer: CHAT_ISSUER,
    audience: o.projectNumber,
    bind(claims, token, event, raw) {
      const chat = obj(event.chat);
      if (!chat) return refused(400, "malformed");
      const message = obj(obj(chat.messagePayload)?.message)?.name;
      // Google's tokens carry no nonce: two genuine events in one second (two people's clicks) can
      // share a token, so the token alone would refuse the second. A replay repeats the token AND the
      // bytes: key on both. (The token does not bind the body: a captured token is good for other
      // bodies until it expires; TLS to our endpoint is what keeps tokens from being captured.)
      const digest = createHash("sha256").update(raw).digest("hex");
      const keys = [`delivery:${token.slice(token.lastIndexOf(".") + 1)}:${digest}`];
      if (typeof message === "string") keys.push(`message:${message}`);
      return { kind: "verified", replayKeys: keys, expiresAtMs: (claims.exp ?? 0) * 1000 };
    },
  });
}
