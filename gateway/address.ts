/**
 * Upstream address vetting (SSRF defence). Untrusted: the host an agent asks for and whatever DNS
 * answers for it. We refuse loopback, private, link-local (incl. 169.254.169.254 metadata), CGNAT,
 * multicast, unspecified, reserved and IPv4-mapped/embedded forms unless the policy allows private
 * addresses, and we hand back the exact address we checked so the caller never resolves twice
 * (no DNS rebinding). Anything that is not a canonical IP literal for `isIP` is "invalid".
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";

/** Why an address is or is not dialable; everything except "public" is refused by default. */
export type AddressClass =
  | "public"
  | "loopback"
  | "private"
  | "link_local"
  | "cgnat"
  | "multicast"
  | "unspecified"
  | "reserved"
  | "mapped"
  | "invalid";

type Range = readonly [cidr: string, cls: AddressClass];

// Most specific first: the first matching prefix wins.
const V4_RANGES: readonly Range[] = [
  ["0.0.0.0/32", "unspecified"],
  ["0.0.0.0/8", "reserved"], // "this network"; Linux dials some of it as local
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "cgnat"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link_local"], // includes 169.254.169.254 cloud metadata
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "reserved"], // IETF protocol assignments
  ["192.0.2.0/24", "reserved"], // TEST-NET-1
  ["192.88.99.0/24", "reserved"], // 6to4 relay anycast (deprecated)
  ["192.168.0.0/16", "private"],
  ["198.18.0.0/15", "reserved"], // benchmarking
  ["198.51.100.0/24", "reserved"], // TEST-NET-2
  ["203.0.113.0/24", "reserved"], // TEST-NET-3
  ["224.0.0.0/4", "multicast"],
  ["240.0.0.0/4", "reserved"], // future use, and 255.255.255.255 limited broadcast
];

// "embed" rows carry an IPv4 address (in the low 32 bits, or at bit 80 for 6to4); see classifyAddress.
const V6_RANGES: readonly (Range | readonly [cidr: string, cls: "embed" | "embed6to4"])[] = [
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["::ffff:0:0/96", "embed"], // IPv4-mapped
  ["::/96", "embed"], // IPv4-compatible (deprecated)
  ["64:ff9b::/96", "embed"], // NAT64 well-known prefix
  ["64:ff9b:1::/48", "mapped"], // NAT64 local-use
  ["100::/64", "reserved"], // discard-only
  ["2001::/32", "mapped"], // Teredo: embeds server and client IPv4
  ["2001:2::/48", "reserved"], // benchmarking
  ["2001:10::/28", "reserved"], // ORCHID
  ["2001:20::/28", "reserved"], // ORCHIDv2
  ["2001:db8::/32", "reserved"], // documentation
  ["2002::/16", "embed6to4"], // 6to4: 2002:AABB:CCDD::/48 embeds AA.BB.CC.DD
  ["3fff::/20", "reserved"], // documentation (RFC 9637)
  ["fc00::/7", "private"], // unique local
  ["fec0::/10", "private"], // site-local (deprecated)
  ["fe80::/10", "link_local"],
  ["ff00::/8", "multicast"],
  ["2000::/3", "public"], // the only global unicast space allocated so far; the rest is "reserved"
];

function v4ToBigInt(ip: string): bigint {
  return ip.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function v6ToBigInt(ip: string): bigint {
  const text = ip.replace(/\d+\.\d+\.\d+\.\d+$/, (dotted) => {
    const v4 = v4ToBigInt(dotted);
    return `${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  });
  const [head = "", tail] = text.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

type Compiled<T> = { prefix: bigint; shift: bigint; cls: T }[];

function compile<T>(rows: readonly (readonly [string, T])[], bits: 32 | 128): Compiled<T> {
  const parse = bits === 32 ? v4ToBigInt : v6ToBigInt;
  return rows.map(([cidr, cls]) => {
    const [base = "", len = "0"] = cidr.split("/");
    const shift = BigInt(bits - Number(len));
    return { prefix: parse(base) >> shift, shift, cls };
  });
}

const V4 = compile(V4_RANGES, 32);
const V6 = compile(V6_RANGES, 128);

function classifyV4(value: bigint): AddressClass {
  return V4.find((r) => value >> r.shift === r.prefix)?.cls ?? "public";
}

/** Classifies a canonical IP literal (no brackets, no zone id, no numeric shorthands). Pure. */
export function classifyAddress(ip: string): AddressClass {
  // A zone id only means something for link-local and is never a real upstream; keep the input narrow.
  if (ip.includes("%")) return "invalid";
  const family = isIP(ip);
  if (family === 4) return classifyV4(v4ToBigInt(ip));
  if (family !== 6) return "invalid";
  const value = v6ToBigInt(ip);
  const cls = V6.find((r) => value >> r.shift === r.prefix)?.cls ?? "reserved";
  if (cls !== "embed" && cls !== "embed6to4") return cls;
  // A mapped loopback is reported as loopback (the sharper reason); a mapped public address is
  // still refused, because the kernel or a relay may route it in ways a v4-only check never saw.
  const inner = classifyV4((cls === "embed" ? value : value >> 80n) & 0xffffffffn);
  return inner === "public" ? "mapped" : inner;
}

/** True for every address that is not "public": the default answer for SSRF checks. */
export function isRefusedAddress(ip: string): boolean {
  return classifyAddress(ip) !== "public";
}

/** One resolver answer, as `dns.promises.lookup(host, { all: true })` gives it. */
export interface LookupAddress {
  address: string;
  family: 4 | 6;
}

/** Options for `resolveTarget`; `lookup` is injectable so tests never touch real DNS. */
export interface ResolveTargetOptions {
  /** The matched policy says `allow_private: true` for this host. */
  allowPrivate: boolean;
  /** `--resolve HOST=IP:PORT` entries, keyed by lowercased host. */
  resolveMap: ReadonlyMap<string, { host: string; port: number }>;
  lookup?: (host: string) => Promise<LookupAddress[]>;
}

/** The address to dial, or why not; the caller dials exactly `address` and never re-resolves. */
export type ResolveResult =
  | { ok: true; address: string; port: number; family: 4 | 6 }
  | { ok: false; code: "private_address" | "upstream_unreachable"; message: string };

function defaultLookup(host: string): Promise<LookupAddress[]> {
  return dnsLookup(host, { all: true, verbatim: true }) as Promise<LookupAddress[]>;
}

// getaddrinfo accepts inet_aton spellings ("2130706433", "0x7f.1", "0177.0.0.1"); no real client
// sends them, and their meaning depends on libc, so refuse them before asking the resolver.
const NUMERIC_HOST = /^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+))*\.?$/i;

/** Picks the address for `host:port` (`--resolve` entry, else IP literal, else DNS) and vets it. */
export async function resolveTarget(
  host: string,
  port: number,
  opts: ResolveTargetOptions,
): Promise<ResolveResult> {
  const name = host.toLowerCase();
  const mapped = opts.resolveMap.get(name);
  if (mapped) {
    // Operator intent (dev and tests): trusted as-is, no classification.
    const family = isIP(mapped.host);
    if (family === 0) return unreachable(`--resolve entry for ${name} is not an IP address`);
    return { ok: true, address: mapped.host, port: mapped.port, family: family === 6 ? 6 : 4 };
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) return unreachable(`invalid port ${port}`);
  const literal = name.startsWith("[") && name.endsWith("]") ? name.slice(1, -1) : name;
  if (isIP(literal) !== 0 || literal.includes("%")) return vet(name, [literal], port, opts.allowPrivate);
  if (!opts.allowPrivate && NUMERIC_HOST.test(name)) {
    return { ok: false, code: "private_address", message: `numeric host spelling ${name} is refused` };
  }
  let answers: LookupAddress[];
  try {
    answers = await (opts.lookup ?? defaultLookup)(name);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return unreachable(`cannot resolve ${name}${typeof code === "string" ? ` (${code})` : ""}`);
  }
  if (answers.length === 0) return unreachable(`cannot resolve ${name} (no addresses)`);
  const addresses = answers.map((a) => a.address);
  return vet(name, addresses, port, opts.allowPrivate);
}

function vet(name: string, addresses: readonly string[], port: number, allowPrivate: boolean): ResolveResult {
  // Refuse if ANY answer is refused, not just the first: a name answering both a public and a
  // private address is a rebinding tactic (the client's retry or happy-eyeballs lands on the other).
  for (const address of addresses) {
    const cls = classifyAddress(address);
    if (cls === "invalid" || (cls !== "public" && !allowPrivate)) {
      return { ok: false, code: "private_address", message: `${name} resolves to a ${cls} address` };
    }
  }
  const address = addresses[0]!;
  return { ok: true, address, port, family: isIP(address) === 6 ? 6 : 4 };
}

function unreachable(message: string): ResolveResult {
  return { ok: false, code: "upstream_unreachable", message };
}
