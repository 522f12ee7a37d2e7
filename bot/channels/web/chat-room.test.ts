import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Card } from "../../channel.js";
import { ChatRoom } from "./chat-room.js";

const CARD: Card = {
  title: "t",
  lines: [],
  agentSays: null,
  status: "Waiting",
  buttons: [{ label: "Approve", data: "a:x:approve" }],
};
const settle = () => new Promise((r) => setTimeout(r, 400));

describe("ChatRoom with a history file", () => {
  it("keeps cards across a restart so they can still be updated", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "wdn-room-")), "history.json");
    const first = new ChatRoom(Date.now, file);
    const m = first.append("agent:demo", null, { card: CARD });
    await settle();
    first.close();
    const second = new ChatRoom(Date.now, file);
    expect(second.find("agent:demo", m.id)?.card?.title).toBe("t");
    expect(second.replaceCard("agent:demo", m.id, { ...CARD, status: "Expired", buttons: [] })).toBe(true);
    second.close();
  });

  it("never writes a message that was deleted right after it arrived (a pasted secret)", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "wdn-room-")), "history.json");
    const room = new ChatRoom(Date.now, file);
    room.append("dm:u1", { id: "web:u1", name: "U" }, { text: "hello" });
    const secret = room.append("dm:u1", { id: "web:u1", name: "U" }, { text: "/secret set X hunter2-value" });
    room.remove("dm:u1", secret.id);
    await settle();
    const saved = await readFile(file, "utf8");
    expect(saved).toContain("hello");
    expect(saved).not.toContain("hunter2-value");
    room.close();
  });
});
