/**
 * Stands in for kube-scheduler, which the test cluster does not run (it is not built; see
 * scripts/kube-binaries.sh): every Pod without a node is bound to the single node `localhost` through
 * the real `pods/binding` subresource, exactly the call a scheduler makes. Pod specs therefore stay as
 * a runtime writes them for a real cluster (no `nodeName` set by the runtime). Polls every 200 ms.
 */
import type { ApiAnswer } from "./kube-cluster.js";

type Api = (method: string, path: string, body?: unknown) => Promise<ApiAnswer>;

/** Starts the loop; the returned function stops it and resolves once the last round has ended. */
export function startBinder(api: Api, node = "localhost"): () => Promise<void> {
  let running = true;
  const round = async () => {
    const list = await api("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3D");
    for (const pod of list.body?.items ?? []) {
      const { name, namespace } = pod.metadata ?? {};
      if (!name || !namespace || pod.metadata?.deletionTimestamp) continue;
      await api("POST", `/api/v1/namespaces/${namespace}/pods/${name}/binding`, {
        apiVersion: "v1",
        kind: "Binding",
        metadata: { name },
        target: { apiVersion: "v1", kind: "Node", name: node },
      });
    }
  };
  const loop = (async () => {
    while (running) {
      try {
        await round();
      } catch {
        // apiserver busy or stopping: try again next round
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}
