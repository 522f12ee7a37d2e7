/**
 * Headless Debian Chromium for browser tests (playwright-core drives it; nothing is downloaded).
 * The flags keep Chromium from reaching for the network on its own. Under CI a missing browser is an
 * error, elsewhere the test is skipped with this reason.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Why browser tests cannot run here (undefined when they can); throws under CI instead. */
export function browserUnavailable(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.env.CI) throw new Error(`${CHROMIUM} is not installed; CI must run browser tests`);
  return `${CHROMIUM} not installed`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
