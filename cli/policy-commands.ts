/**
 * `warden policy test NAME --replay 24h [--file FILE]`: asks the running instance's control API
 * (`POST /v1/policies/test`, replay form) which audited decisions of the window an edited policy
 * would change, and prints the summary (or the JSON with `--json`). Writes nothing.
 *
 * Untrusted: the examples' agent-written text (agent, method, URL from the audit), flattened by
 * `formatReplay` so it cannot forge lines or drive the terminal (control characters dropped).
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { formatReplay } from "../bot/commands/policy-replay.js";
import type { ReplayResult } from "../gateway/index.js";
import { control } from "./agent-commands.js";
import { UsageError } from "./args.js";

const USAGE = `usage: warden policy test NAME --replay 24h [--file FILE] [--examples N] [--json]
options: --control HOST:PORT (default 127.0.0.1:7421); FILE = the edited policy (default: NAME as on disk)`;
const POLICY_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export async function policyCommand(argv: string[], o: { home: string }): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  const [sub, name, ...extra] = positionals;
  if (sub !== "test" || !name || !POLICY_NAME.test(name) || extra.length > 0 || !values.replay)
    throw new UsageError(USAGE);
  const examples = values.examples === undefined ? undefined : Number(values.examples);
  if (examples !== undefined && !(Number.isInteger(examples) && examples >= 0 && examples <= 20))
    throw new UsageError("--examples is a whole number from 0 to 20");
  let yaml: string | undefined;
  if (values.file !== undefined) {
    try {
      yaml = await readFile(values.file, "utf8");
    } catch {
      throw new UsageError(`cannot read ${values.file}`);
    }
  }
  const text = await control(o.home, values.control ?? "", "POST", "/v1/policies/test", {
    policy: name,
    replay: values.replay,
    ...(yaml !== undefined && { yaml }),
    ...(examples !== undefined && { examples }),
  });
  const report = JSON.parse(text) as ReplayResult;
  process.stdout.write(
    values.json
      ? `${JSON.stringify(report, null, 2)}\n`
      : `${formatReplay(report, { examples: examples ?? 5 })}\n`,
  );
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      replay: { type: "string" },
      file: { type: "string" },
      examples: { type: "string" },
      json: { type: "boolean", default: false },
      control: { type: "string", default: "127.0.0.1:7421" },
    },
  });
}
