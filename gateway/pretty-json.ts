/**
 * Pretty-prints JSON for approval cards without changing what it says. Untrusted: the text (the
 * agent's request body). `JSON.parse` + `JSON.stringify` would not do: it keeps only the last of
 * duplicate keys (an upstream may act on the first) and rounds big numbers, so a card could show
 * something other than what is sent. Here the text is re-indented token by token: every key, every
 * duplicate and every number stays as sent; string escapes are decoded so `\u0064elete` reads
 * "delete", while control and bidirectional-override characters stay escaped so they cannot
 * rearrange what the human reads.
 */

/** Characters that could hide or reorder text on a card: kept as \uXXXX. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;

/** 2-space indented JSON, or undefined when `text` is not valid JSON. */
export function prettyJson(text: string): string | undefined {
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  const out: string[] = [];
  let depth = 0;
  const newline = (): void => void out.push(`\n${"  ".repeat(depth)}`);
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
    } else if (c === '"') {
      const end = stringEnd(text, i);
      out.push(showString(text.slice(i, end)));
      i = end;
    } else if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      const next = nextSignificant(text, i + 1);
      if (text[next] === close) {
        out.push(c + close);
        i = next + 1;
      } else {
        out.push(c);
        depth++;
        newline();
        i++;
      }
    } else if (c === "}" || c === "]") {
      depth--;
      newline();
      out.push(c);
      i++;
    } else if (c === ",") {
      out.push(",");
      newline();
      i++;
    } else if (c === ":") {
      out.push(": ");
      i++;
    } else {
      // Numbers, true, false, null: copied exactly as written.
      let j = i;
      while (j < text.length && !/[\s,:{}[\]"]/.test(text[j] as string)) j++;
      out.push(text.slice(i, j));
      i = j;
    }
  }
  return out.join("");
}

/** Index just past the closing quote of the string starting at `start` (text is valid JSON). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
  return i + 1;
}

function nextSignificant(text: string, from: number): number {
  let i = from;
  while (i < text.length && /\s/.test(text[i] as string)) i++;
  return i;
}

function showString(token: string): string {
  const decoded = JSON.parse(token) as string;
  return JSON.stringify(decoded).replace(
    INVISIBLE,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
