import { describe, expect, it } from "vitest";
import type { Card } from "../channel.js";
import { cardEmbed } from "./discord/embeds.js";
import { cardMessage } from "./slack/blocks.js";
import { buttonLabel, fitText, notShown, oneLine, renderCard } from "./text.js";
import { renderWhatsAppCard } from "./whatsapp/card-text.js";

const CARD: Card = {
  title: "demo wants to POST api.example.test/v1/things",
  lines: [{ label: "Agent", value: "demo" }],
  agentSays: null,
  status: "Waiting for approval: 0 of 1",
  buttons: [],
  link: "http://127.0.0.1:7420/approvals/0b6f3c1e-9d2a-4c3b-8e7f-1a2b3c4d5e6f",
};

/** The agent's body tries every way out of a code block and into markup or mentions. */
const HOSTILE_BODY = [
  "```",
  "Status: Approved by owner",
  "```",
  "@everyone @here <@123> <!channel> <https://evil.test|Approve>",
  "[Approve](https://evil.test) *bold* _it_ ~s~ `code`",
  "</pre><b>x</b> \u202Egnp.exe",
].join("\n");

describe("fitText()", () => {
  it("leaves text that fits alone; otherwise every cut says how many characters it hides", () => {
    expect(fitText("short", 10)).toBe("short");
    const out = fitText("a".repeat(500), 200);
    expect(out.length).toBeLessThanOrEqual(200);
    const shown = out.indexOf("…");
    expect(out.slice(shown)).toBe(notShown(500 - shown, 200));
  });

  it("counts characters cut before, even when what is left fits", () => {
    expect(fitText("abc", 200, 7)).toBe(`abc${notShown(7, 200)}`);
  });

  it("measures the rendered form (escaping grows it) and never halves a surrogate pair", () => {
    const esc = (s: string) => s.replace(/&/g, "&amp;");
    const out = fitText("&".repeat(300), 300, 0, (t) => esc(t).length);
    expect(esc(out).length).toBeLessThanOrEqual(300);
    expect(out).toMatch(/^&+… \d+ more characters not shown/);
    const emoji = fitText("😀".repeat(100), 130);
    expect(emoji.charCodeAt(emoji.indexOf("…") - 1)).not.toBe(0xd83d);
  });

  it("oneLine() flattens, strips bidi and control characters, and cuts honestly", () => {
    expect(oneLine("a\u202Eb\u0007\n\nc")).toBe("ab c");
    expect(oneLine("x".repeat(100), 60)).toBe(`${"x".repeat(30)}… 70 more characters not shown`);
  });

  it("buttonLabel() uses the short form only when the label does not fit", () => {
    const b = {
      label: "Approve all PUT /repos/*/*/pulls/*/merge for 15 min",
      shortLabel: "Approve similar for 15 min",
      data: "x",
    };
    expect(buttonLabel(b, 75)).toBe(b.label);
    expect(buttonLabel(b, 40)).toBe("Approve similar for 15 min");
  });
});

describe("a hostile body preview on each platform", () => {
  const card: Card = { ...CARD, body: { text: HOSTILE_BODY, hidden: 0 } };

  it("Telegram/plain text: every body line is prefixed (or in a pre entity), bidi stripped", () => {
    const plain = renderCard(card, 4096);
    for (const line of plain.text.split("\n").filter((l) => l.includes("Approved by owner")))
      expect(line.startsWith("│ ")).toBe(true);
    expect(plain.text).not.toMatch(/[\u202A-\u202E]/);
    const tg = renderCard(card, 4096, { prefixBody: false });
    const body = tg.text.slice(tg.body!.offset, tg.body!.offset + tg.body!.length);
    expect(body).toBe(HOSTILE_BODY.replace("\u202E", ""));
    expect(tg.text.slice(tg.link!.offset, tg.link!.offset + tg.link!.length)).toBe(CARD.link);
  });

  it("Discord: the body cannot close its code block; no markup outside it", () => {
    const d = cardEmbed(card).description ?? "";
    // Exactly our two fences; the agent's backtick runs are split.
    expect(d.match(/```/g)).toHaveLength(2);
    expect(d.startsWith("**Body** (as sent, secrets masked)\n```\n")).toBe(true);
    expect(d.endsWith("\n```")).toBe(true);
  });

  it("WhatsApp: the body cannot close its ``` block; the status stays our only bold line", () => {
    const text = renderWhatsAppCard(card, 4096);
    const body = text.slice(text.indexOf("Body (as sent"));
    expect(body.match(/```/g)).toHaveLength(2);
    expect(text).not.toMatch(/[\u202A-\u202E]/);
    expect(text).toContain(`See the full request: ${CARD.link}`);
  });

  it("Slack: the body is literal rich text; the only mrkdwn is our link, escaped", () => {
    const { blocks } = cardMessage(card);
    const rich = blocks.find((b) => b.type === "rich_text");
    expect(rich).toMatchObject({
      elements: [
        {
          type: "rich_text_preformatted",
          elements: [{ type: "text", text: HOSTILE_BODY.replace("\u202E", "") }],
        },
      ],
    });
    const mrkdwn = JSON.stringify(blocks).match(/"type":"mrkdwn","text":"[^"]*"/g) ?? [];
    expect(mrkdwn).toEqual([
      `"type":"mrkdwn","text":"<${CARD.link}|See the full request> (all headers, the whole body)"`,
    ]);
  });

  it("no platform shows a link that is not an http(s) URL", () => {
    const evil: Card = { ...CARD, link: "javascript:alert(1)" };
    expect(cardEmbed(evil).url).toBeUndefined();
  });
});
