/**
 * Minimal `Reflect.getMetadata` family for `@peculiar/x509`, whose dependency tsyringe refuses to
 * load without a reflect polyfill. `reflect-metadata` is not installed; x509 only needs these three.
 */
type MetadataTable = Map<unknown, unknown>;
const tables = new WeakMap<object, MetadataTable>();

function tableOf(target: object, create: boolean): MetadataTable | undefined {
  let table = tables.get(target);
  if (!table && create) {
    table = new Map();
    tables.set(target, table);
  }
  return table;
}

const reflect = Reflect as unknown as Record<string, unknown>;
if (typeof reflect.getMetadata !== "function") {
  reflect.defineMetadata = (key: unknown, value: unknown, target: object): void => {
    tableOf(target, true)?.set(key, value);
  };
  reflect.getOwnMetadata = (key: unknown, target: object): unknown => tableOf(target, false)?.get(key);
  reflect.getMetadata = (key: unknown, target: object): unknown => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      const value = tableOf(t, false)?.get(key);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}

export {};
