/**
 * Creates a private file exactly once, even when two processes start at the same moment: the text
 * goes to a temp file ("wx", given mode) that is then link()ed into place. link never overwrites, so
 * the name appears complete or not at all, and the loser of a race keeps the winner's file.
 */
import { randomBytes } from "node:crypto";
import { link, unlink, writeFile } from "node:fs/promises";

/** Writes `text` to `path` unless it exists; true when this call created it. */
export async function writeOnce(path: string, text: string, mode: number): Promise<boolean> {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(tmp, text, { flag: "wx", mode });
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return false;
  } finally {
    await unlink(tmp);
  }
}
