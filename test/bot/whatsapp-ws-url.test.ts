/**
 * `WHATSAPP_WS_URL`: WhatsApp Web pointed at another endpoint (a self-hosted test server), as every
 * other SDK can be pointed at a fake. The setting is read by chatSettings, carried by chatChannels
 * and reaches baileys' makeWASocket config as `waWebSocketUrl`; anything but ws:/wss: is refused.
 * Never opens a connection: makeSocket is a fake.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { connectWhatsApp } from "../../bot/channels/whatsapp/connect.js";
import { chatChannels } from "../../cli/chat-channels.js";
import { chatSettings } from "../../cli/chat-settings.js";
import { createFakeWhatsApp } from "../fakes/whatsapp-socket.js";

type Config = Parameters<NonNullable<Parameters<typeof connectWhatsApp>[0]["makeSocket"]>>[0];

describe("WHATSAPP_WS_URL", () => {
  it("is read from the environment only with WhatsApp on", () => {
    expect(chatSettings({ WHATSAPP: "1", WHATSAPP_WS_URL: "ws://127.0.0.1:9/ws/chat" }).whatsapp).toEqual({
      wsUrl: "ws://127.0.0.1:9/ws/chat",
    });
    expect(chatSettings({ WHATSAPP: "1" }).whatsapp).toEqual({});
    expect(chatSettings({ WHATSAPP_WS_URL: "ws://127.0.0.1:9/ws/chat" }).whatsapp).toBeUndefined();
  });

  it("reaches makeWASocket as waWebSocketUrl through warden start's wiring; absent, baileys' default stands", async () => {
    for (const wsUrl of ["ws://127.0.0.1:9/ws/chat", undefined]) {
      const home = await mkdtemp(join(tmpdir(), "warden-wa-ws-"));
      const wa = createFakeWhatsApp();
      let config: Config | undefined;
      const chat = await chatChannels(
        {
          whatsapp: {
            ...(wsUrl ? { wsUrl } : {}),
            makeSocket: ((c: Config) => {
              config = c;
              return wa.makeSocket();
            }) as never,
          },
        },
        {
          home,
          log: () => undefined,
          say: () => undefined,
          webUrl: () => "http://127.0.0.1:1",
          isCard: () => false,
        },
      );
      const [channel] = chat.channels;
      await channel?.start(async () => undefined);
      await channel?.stop();
      await chat.close();
      expect(config).toBeDefined();
      if (wsUrl) expect(config?.waWebSocketUrl).toBe(wsUrl);
      else expect(config).not.toHaveProperty("waWebSocketUrl");
    }
  });

  it("refuses anything but ws: and wss:", async () => {
    const authDir = join(await mkdtemp(join(tmpdir(), "warden-wa-ws-")), "auth");
    await expect(
      connectWhatsApp({
        authDir,
        onQr: () => undefined,
        wsUrl: "http://127.0.0.1:9/",
        makeSocket: () => createFakeWhatsApp().makeSocket() as never,
      }),
    ).rejects.toThrow(/ws:\/\/ or wss:\/\//);
  });
});
