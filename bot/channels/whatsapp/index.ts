/**
 * The WhatsApp channel's front door. The channel, its socket seam and the QR renderers load without
 * baileys; the production connection (connect.ts) is loaded on demand, because baileys is an
 * optional dependency (GPL-3.0 libsignal) that may not be installed:
 *
 *   const { connectWhatsApp } = await loadWhatsAppConnect();
 *   const channel = createWhatsAppChannel({
 *     connect: () => connectWhatsApp({ authDir, onQr: async (qr) => console.log(await qrForTerminal(qr)), log }),
 *     log,
 *   });
 */

export type { ConnectWhatsAppOptions, WhatsAppStatus } from "./connect.js";
export { qrForTerminal, qrSvg } from "./qr.js";
export type { WhatsAppConnect, WhatsAppEvents, WhatsAppSocket } from "./socket.js";
export { BACKOFF_MAX_MS, BACKOFF_MIN_MS } from "./supervisor.js";
export { createWhatsAppChannel, TEXT_LIMIT, type WhatsAppChannelOptions } from "./whatsapp-channel.js";

/** Loads connect.ts (and baileys); rejects with a clear message when baileys is not installed. */
export async function loadWhatsAppConnect(): Promise<typeof import("./connect.js")> {
  try {
    return await import("./connect.js");
  } catch (err) {
    const missing = (err as { code?: string }).code === "ERR_MODULE_NOT_FOUND";
    throw new Error(
      missing
        ? "WhatsApp needs the optional package baileys: npm install baileys@7.0.0-rc14"
        : `WhatsApp could not be loaded: ${(err as Error).message}`,
    );
  }
}
