/**
 * Instagram through our own Send API client against a fake Graph API on 127.0.0.1 (signing like Meta,
 * enforcing the 24-hour window and the template limits): the channel and approval-tap contracts,
 * forged/unsigned/stale/replayed webhooks, codes from other people's cards, and the window
 * (test/bot/meta-harness.ts holds the suites both platforms share).
 */
import { metaSuites } from "./meta-harness.js";

metaSuites("instagram");
