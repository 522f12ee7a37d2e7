// Pure tables only: no address here is ever dialled or resolved. Public examples are data.
import { describe, expect, it, vi } from "vitest";
import { classifyAddress, isRefusedAddress, type LookupAddress, resolveTarget } from "./address.js";

describe("classifyAddress()", () => {
  it.each([
    // why                                               input                         class
    ["public IPv4 (data only)", "8.8.8.8", "public"],
    ["public IPv4 (data only)", "1.1.1.1", "public"],
    ["public IPv6 (data only)", "2606:4700::1111", "public"],
    ["unspecified IPv4 dials localhost on Linux", "0.0.0.0", "unspecified"],
    ["rest of 0/8 'this network'", "0.1.2.3", "reserved"],
    ["RFC 1918 10/8", "10.0.0.1", "private"],
    ["CGNAT low edge", "100.64.0.1", "cgnat"],
    ["CGNAT high edge", "100.127.255.254", "cgnat"],
    ["just above CGNAT is public", "100.128.0.1", "public"],
    ["loopback 127/8, not only .1", "127.53.0.9", "loopback"],
    ["cloud metadata endpoint", "169.254.169.254", "link_local"],
    ["RFC 1918 172.16/12 low edge", "172.16.0.1", "private"],
    ["RFC 1918 172.16/12 high edge", "172.31.255.255", "private"],
    ["just outside 172.16/12", "172.32.0.1", "public"],
    ["IETF protocol assignments", "192.0.0.8", "reserved"],
    ["TEST-NET-1", "192.0.2.10", "reserved"],
    ["RFC 1918 192.168/16", "192.168.1.1", "private"],
    ["benchmarking 198.18/15", "198.19.255.1", "reserved"],
    ["TEST-NET-2", "198.51.100.7", "reserved"],
    ["TEST-NET-3", "203.0.113.7", "reserved"],
    ["multicast", "224.0.0.251", "multicast"],
    ["multicast top", "239.255.255.250", "multicast"],
    ["class E", "240.0.0.1", "reserved"],
    ["limited broadcast", "255.255.255.255", "reserved"],
    ["IPv6 unspecified", "::", "unspecified"],
    ["IPv6 loopback", "::1", "loopback"],
    ["IPv6 loopback fully zero-padded", "0000:0000:0000:0000:0000:0000:0000:0001", "loopback"],
    ["IPv6 loopback with padded group", "::0001", "loopback"],
    ["unique local fc00::/7 (fd..)", "fd12:3456::1", "private"],
    ["unique local fc00::/7 (fc..)", "fc00::1", "private"],
    ["link-local", "fe80::1", "link_local"],
    ["link-local uppercase hex", "FE80::ABCD", "link_local"],
    ["deprecated site-local", "fec0::1", "private"],
    ["IPv6 multicast", "ff02::1", "multicast"],
    ["discard-only 100::/64", "100::1", "reserved"],
    ["documentation 2001:db8::/32", "2001:db8::1", "reserved"],
    ["unallocated space outside 2000::/3", "4000::1", "reserved"],
    ["mapped loopback, dotted tail", "::ffff:127.0.0.1", "loopback"],
    ["mapped loopback, hex tail", "::ffff:7f00:1", "loopback"],
    ["mapped loopback, uppercase", "::FFFF:7F00:0001", "loopback"],
    ["mapped metadata endpoint", "::ffff:169.254.169.254", "link_local"],
    ["mapped private", "::ffff:10.0.0.1", "private"],
    ["mapped public is still refused", "::ffff:8.8.8.8", "mapped"],
    ["IPv4-compatible loopback", "::127.0.0.1", "loopback"],
    ["IPv4-compatible public", "::8.8.8.8", "mapped"],
    ["NAT64 to loopback", "64:ff9b::127.0.0.1", "loopback"],
    ["NAT64 to public", "64:ff9b::808:808", "mapped"],
    ["NAT64 local-use prefix", "64:ff9b:1::1", "mapped"],
    ["6to4 wrapping loopback", "2002:7f00:1::1", "loopback"],
    ["6to4 wrapping metadata", "2002:a9fe:a9fe::", "link_local"],
    ["6to4 wrapping public", "2002:808:808::1", "mapped"],
    ["Teredo", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "mapped"],
  ] as const)("%s: %s is %s", (_why, ip, cls) => {
    expect(classifyAddress(ip)).toBe(cls);
  });

  it.each([
    // why                                               input
    ["decimal integer for 127.0.0.1", "2130706433"],
    ["octal first octet", "0177.0.0.1"],
    ["hex shorthand", "0x7f.1"],
    ["hex dotted", "0x7f.0x0.0x0.0x1"],
    ["two-part shorthand", "127.1"],
    ["zero-padded octets", "127.000.000.001"],
    ["zero-padded metadata", "169.254.169.0254"],
    ["brackets are URL syntax, not an address", "[::1]"],
    ["zone id on link-local", "fe80::1%eth0"],
    ["percent-encoded zone id", "::1%25eth0"],
    ["empty zone id", "fe80::1%"],
    ["leading whitespace", " 127.0.0.1"],
    ["trailing dot", "127.0.0.1."],
    ["port glued on", "127.0.0.1:80"],
    ["truncated mapped form", "::ffff:1.2.3"],
    ["two double-colons", "1::2::3"],
    ["hostname", "localhost"],
    ["empty string", ""],
  ] as const)("%s: %j is invalid and refused", (_why, ip) => {
    expect(classifyAddress(ip)).toBe("invalid");
    expect(isRefusedAddress(ip)).toBe(true);
  });
});

describe("isRefusedAddress()", () => {
  it("refuses everything but public", async () => {
    expect(isRefusedAddress("1.1.1.1")).toBe(false);
    expect(isRefusedAddress("2606:4700::1111")).toBe(false);
    expect(isRefusedAddress("127.0.0.1")).toBe(true);
    expect(isRefusedAddress("::ffff:1.1.1.1")).toBe(true);
  });
});

function fakeLookup(table: Record<string, LookupAddress[]>) {
  return vi.fn(async (host: string): Promise<LookupAddress[]> => {
    const answers = table[host];
    if (!answers) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return answers;
  });
}

const PUBLIC: LookupAddress = { address: "93.184.215.14", family: 4 };
const LOOPBACK: LookupAddress = { address: "127.0.0.1", family: 4 };
const NONE = new Map<string, { host: string; port: number }>();

describe("resolveTarget()", () => {
  const lookup = fakeLookup({
    "api.example.test": [PUBLIC, { address: "2606:4700::1111", family: 6 }],
    "v6.example.test": [{ address: "2606:4700::1111", family: 6 }],
    "internal.example.test": [{ address: "10.1.2.3", family: 4 }],
    "rebind.example.test": [PUBLIC, LOOPBACK],
    "metadata.example.test": [{ address: "::ffff:169.254.169.254", family: 6 }],
    "empty.example.test": [],
  });

  it("returns the first address of an all-public answer", async () => {
    const r = await resolveTarget("API.Example.Test", 443, { allowPrivate: false, resolveMap: NONE, lookup });
    expect(r).toEqual({ ok: true, address: PUBLIC.address, port: 443, family: 4 });
    expect(lookup).toHaveBeenCalledWith("api.example.test");
  });

  it("reports family 6 for an IPv6 answer", async () => {
    const r = await resolveTarget("v6.example.test", 443, { allowPrivate: false, resolveMap: NONE, lookup });
    expect(r).toMatchObject({ ok: true, family: 6 });
  });

  it.each([
    // why                                               host                        allowPrivate  expected
    ["private answer refused", "internal.example.test", false, "private_address"],
    ["private answer allowed by policy", "internal.example.test", true, "ok"],
    ["mixed public+loopback answer is a rebinding tactic", "rebind.example.test", false, "private_address"],
    ["mapped metadata answer", "metadata.example.test", false, "private_address"],
    ["loopback literal", "127.0.0.1", false, "private_address"],
    ["bracketed IPv6 loopback literal", "[::1]", false, "private_address"],
    ["mapped loopback literal", "::ffff:7f00:1", false, "private_address"],
    ["zone id literal is never dialled", "fe80::1%eth0", true, "private_address"],
    ["decimal spelling never reaches getaddrinfo", "2130706433", false, "private_address"],
    ["hex spelling never reaches getaddrinfo", "0x7f.1", false, "private_address"],
    ["octal spelling never reaches getaddrinfo", "0177.0.0.1", false, "private_address"],
    ["public literal (data only)", "8.8.8.8", false, "ok"],
    ["loopback literal allowed by policy", "127.0.0.1", true, "ok"],
    ["unknown name", "nxdomain.example.test", false, "upstream_unreachable"],
    ["resolver returns nothing", "empty.example.test", false, "upstream_unreachable"],
  ] as const)("%s: %s", async (_why, host, allowPrivate, expected) => {
    const r = await resolveTarget(host, 443, { allowPrivate, resolveMap: NONE, lookup });
    expect(r.ok ? "ok" : r.code).toBe(expected);
  });

  it("never resolves an IP literal or numeric spelling", async () => {
    const spy = fakeLookup({});
    for (const host of ["127.0.0.1", "[::1]", "2130706433", "0x7f.1"]) {
      await resolveTarget(host, 80, { allowPrivate: false, resolveMap: NONE, lookup: spy });
    }
    expect(spy).not.toHaveBeenCalled();
  });

  it("uses a --resolve entry as-is, skipping classification and DNS", async () => {
    const spy = fakeLookup({});
    const resolveMap = new Map([["api.example.test", { host: "127.0.0.1", port: 8443 }]]);
    const r = await resolveTarget("API.example.test", 443, { allowPrivate: false, resolveMap, lookup: spy });
    expect(r).toEqual({ ok: true, address: "127.0.0.1", port: 8443, family: 4 });
    expect(spy).not.toHaveBeenCalled();
  });

  it("names the host, not the resolver error text, when lookup fails", async () => {
    const r = await resolveTarget("nxdomain.example.test", 443, {
      allowPrivate: false,
      resolveMap: NONE,
      lookup,
    });
    expect(r).toEqual({
      ok: false,
      code: "upstream_unreachable",
      message: "cannot resolve nxdomain.example.test (ENOTFOUND)",
    });
  });

  it("rejects an out-of-range port", async () => {
    const r = await resolveTarget("8.8.8.8", 0, { allowPrivate: false, resolveMap: NONE, lookup });
    expect(r).toMatchObject({ ok: false, code: "upstream_unreachable" });
  });
});
