/**
 * Pairing QR codes for WhatsApp Web: as block characters for the operator's terminal, and as an
 * SVG for the web UI. The ONLY file importing `qrcode`. The QR string is a short-lived pairing
 * secret (whoever scans it first owns the session): show it to the operator only, never log it.
 */
import QRCode from "qrcode";

const MAX_QR = 2048;

function checked(qr: string): string {
  if (typeof qr !== "string" || qr.length === 0 || qr.length > MAX_QR)
    throw new Error("WhatsApp pairing QR: expected a non-empty string of at most 2048 characters");
  return qr;
}

/** The QR as half-block characters (two modules per character row) for a terminal. */
export async function qrForTerminal(qr: string): Promise<string> {
  return QRCode.toString(checked(qr), { type: "terminal", small: true, errorCorrectionLevel: "L" });
}

/** The QR as a standalone `<svg …>` document (no scripts, no external references). */
export async function qrSvg(qr: string): Promise<string> {
  const svg = await QRCode.toString(checked(qr), { type: "svg", margin: 2, errorCorrectionLevel: "L" });
  return svg.slice(svg.indexOf("<svg")); // drop any XML prolog so it can be inlined
}
