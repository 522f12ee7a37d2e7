/**
 * Email settings and inbound judging without a server: URLs parsed strictly (no password in a URL,
 * cleartext off loopback must upgrade), the bot's address, and what counts as a reply's own words.
 */
import { describe, expect, it } from "vitest";
import { botAddress, EmailSettingsError, mailServer } from "../../bot/channels/email/email-settings.js";
import { newText, parseInboundMail } from "../../bot/channels/email/inbound-mail.js";

describe("email settings", () => {
  it("imap:// and smtp:// on loopback may stay cleartext; elsewhere STARTTLS is required; imaps/smtps are TLS", () => {
    expect(mailServer("imap://bot@127.0.0.1:10143", "imap", "x@y.z")).toEqual({
      host: "127.0.0.1",
      port: 10143,
      secure: false,
      requireStartTls: false,
      user: "bot",
    });
    expect(mailServer("imap://mail.example.org", "imap", "w@example.org")).toMatchObject({
      port: 143,
      requireStartTls: true,
      user: "w@example.org",
    });
    expect(mailServer("imaps://a%40b.c@mail.example.org", "imap", "x@y.z")).toMatchObject({
      port: 993,
      secure: true,
      requireStartTls: false,
      user: "a@b.c",
    });
    expect(mailServer("smtp://mail.example.org", "smtp", "x@y.z")).toMatchObject({
      port: 587,
      requireStartTls: true,
    });
    expect(mailServer("smtps://mail.example.org", "smtp", "x@y.z")).toMatchObject({
      port: 465,
      secure: true,
    });
  });

  it("refuses a password in a URL, a wrong scheme, and names the setting, never the value", () => {
    const err = (() => {
      try {
        mailServer("imap://bot:hunter2secret@mail.example.org", "imap", "x@y.z");
      } catch (e) {
        return e as EmailSettingsError;
      }
    })();
    expect(err).toBeInstanceOf(EmailSettingsError);
    expect(err?.code).toBe("password_in_url");
    expect(err?.message).toContain("EMAIL_IMAP_URL");
    expect(err?.message).not.toContain("hunter2secret");
    expect(() => mailServer("http://mail.example.org", "smtp", "x@y.z")).toThrow(/EMAIL_SMTP_URL/);
  });

  it("the bot's address: lower-cased, split for plus-addressing; one with '+' is refused", () => {
    expect(botAddress(" Warden@Example.ORG ")).toEqual({
      address: "warden@example.org",
      local: "warden",
      domain: "example.org",
    });
    expect(() => botAddress("warden+x@example.org")).toThrow(EmailSettingsError);
    expect(() => botAddress("not an address")).toThrow(/EMAIL_ADDRESS/);
  });
});

describe("inbound mail", () => {
  it("a reply's own words stop at the quote, the attribution line or the signature", () => {
    expect(newText("approve\n\nOn Mon, 1 Jan 2030, Warden wrote:\n> card")).toBe("approve");
    expect(newText("Deny.\r\n> approve")).toBe("Deny.");
    expect(newText("/help\n-- \nAnn")).toBe("/help");
    expect(newText("ok\n-----Original Message-----\napprove")).toBe("ok");
  });

  it("auto-replies, bounces and list mail are ignored; two From: addresses are refused", async () => {
    const mail = (headers: string) =>
      parseInboundMail(
        Buffer.from(
          `${headers}From: ann@mail.test\r\nTo: w@mail.test\r\nMessage-ID: <a@b>\r\n\r\napprove\r\n`,
        ),
      );
    expect(await mail("Auto-Submitted: auto-replied\r\n")).toEqual({
      kind: "ignored",
      reason: "auto_submitted",
    });
    expect((await mail("Auto-Submitted: no\r\n")).kind).toBe("mail");
    expect(await mail("Precedence: list\r\n")).toEqual({ kind: "ignored", reason: "bulk_precedence" });
    expect(await mail("X-Autorespond: 1\r\n")).toEqual({ kind: "ignored", reason: "auto_reply_header" });
    expect(await mail("Return-Path: <>\r\n")).toEqual({ kind: "ignored", reason: "null_return_path" });
    const two = await parseInboundMail(
      Buffer.from("From: ann@mail.test, eve@mail.test\r\nMessage-ID: <a@b>\r\n\r\napprove\r\n"),
    );
    expect(two).toEqual({ kind: "ignored", reason: "several_senders" });
  });
});
