/**
 * Runs a command in an agent Pod's `runner` container over the API server's exec stream (WebSocket
 * through the kubelet) and collects its output and exit code. The output comes from the hostile agent
 * container: it is returned as text to the operator who asked, never interpreted here.
 */
import { PassThrough } from "node:stream";
import { Exec, type KubeConfig, type V1Status } from "@kubernetes/client-node";

export async function execInPod(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  cmd: readonly string[],
): Promise<{ exitCode: number; output: string }> {
  // The runner's own user (uid 1000): a Pod's exec cannot change it.
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const exitCode = await new Promise<number>((resolve, reject) => {
    new Exec(kc)
      .exec(namespace, pod, "runner", [...cmd], out, out, null, false, (s: V1Status) => {
        if (s.status === "Success") return resolve(0);
        const code = s.details?.causes?.find((c) => c.reason === "ExitCode")?.message;
        resolve(code === undefined ? -1 : Number(code));
      })
      // A stream that closes without a status (the Pod went away) counts as -1.
      .then((ws) => ws.on("close", () => setTimeout(() => resolve(-1), 100)), reject);
  });
  return { exitCode, output: Buffer.concat(chunks).toString("utf8") };
}
