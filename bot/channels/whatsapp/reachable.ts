/**
 * Is a phone number on WhatsApp? WhatsApp Web accepts a message to any number and never says it
 * went nowhere, so a card to a mistyped parent's number would count as delivered and the request
 * would wait out its timeout. We ask first (baileys' `onWhatsApp`, a usync query) and refuse to
 * send to a number WhatsApp does not know, so the bot sees a failed send and fails closed.
 * Answers are cached (bounded); when the check itself fails we send anyway and WhatsApp decides.
 */
import { remember } from "./jid.js";
import type { WhatsAppSocket } from "./socket.js";

const PN_SUFFIX = "@s.whatsapp.net";

export function createReachability(socket: () => WhatsAppSocket | undefined) {
  const known = new Map<string, boolean>();
  return {
    /** Throws when `jid` is a phone number WhatsApp says has no account. */
    async check(jid: string): Promise<void> {
      if (!jid.endsWith(PN_SUFFIX)) return; // groups and LIDs are only ever ids WhatsApp gave us
      let exists = known.get(jid);
      if (exists === undefined) {
        const found = await socket()
          ?.onWhatsApp?.(jid)
          .catch(() => undefined);
        if (found === undefined) return;
        // One number per query: any hit means it exists (WhatsApp may answer with a corrected jid).
        exists = found.some((r) => r.exists === true);
        remember(known, jid, exists);
      }
      if (!exists) throw new Error(`WhatsApp: +${jid.slice(0, -PN_SUFFIX.length)} is not on WhatsApp`);
    },
  };
}
