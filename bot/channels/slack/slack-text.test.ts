import { describe, expect, it } from "vitest";
import { decodeSlack, escapeSlack, fitLine, stripMention, wireChunks } from "./slack-text.js";

describe("slack-text", () => {
  it.each([
    // why                                        wire (as Slack sends it)             what the person typed
    ["entities decode, & last", "a &lt; b &amp;&amp; c &gt; d", "a < b && c > d"],
    ["a typed entity stays as typed", "&amp;lt;b&amp;gt;", "&lt;b&gt;"],
    ["user mention", "hi <@U0BOB>", "hi @U0BOB"],
    ["channel link shows its name", "see <#C0OPS|ops>", "see #ops"],
    ["special mention", "<!here> now", "@here now"],
    ["user group", "<!subteam^S1|@oncall> go", "@oncall go"],
    ["auto-linked url keeps what was typed", "<http://x.test|x.test>", "x.test"],
    ["bare url", "<https://x.test/a?b=1&amp;c=2>", "https://x.test/a?b=1&c=2"],
    ["secret with markup characters", "ghp_a&amp;b&lt;c", "ghp_a&b<c"],
  ])("decodeSlack(): %s", (_why, wire, typed) => {
    expect(decodeSlack(wire)).toBe(typed);
  });

  it("escapeSlack() neutralises control sequences and round-trips through decodeSlack()", () => {
    const s = "<!channel> & <https://evil.test|click> &amp;";
    expect(escapeSlack(s)).toBe("&lt;!channel&gt; &amp; &lt;https://evil.test|click&gt; &amp;amp;");
    expect(decodeSlack(escapeSlack(s))).toBe(s);
  });

  it("stripMention() removes only the bot's mention", () => {
    expect(stripMention("<@UBOT> /agent list <@U0BOB>", "UBOT")).toBe("/agent list <@U0BOB>");
    expect(stripMention("hey <@UBOT|warden>  there", "UBOT")).toBe("hey there");
  });

  it("wireChunks() keeps every escaped chunk within the limit and loses nothing", () => {
    const text = `${"<&>".repeat(3000)} tail`;
    const chunks = wireChunks(text, 4000);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(4000);
    expect(chunks.map(decodeSlack).join("").replace(/\s/g, "")).toBe(text.replace(/\s/g, ""));
  });

  it("fitLine() flattens, strips bidi controls and fits the escaped text", () => {
    expect(fitLine("a\u202Eb\n\nc", 100)).toBe("ab c");
    const fitted = fitLine("&".repeat(200), 150);
    expect(fitted.length).toBeLessThanOrEqual(150);
    // The cut says how many characters it hides (counted before escaping).
    const shown = (fitted.match(/&amp;/g) ?? []).length;
    expect(fitted).toMatch(/^(&amp;)+… \d+ more characters not shown — see the full request$/);
    expect(fitted).toContain(`… ${200 - shown} more characters`);
  });
});
