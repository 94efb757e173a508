import type { HostCallHandler } from "../engine/index.js";
import type { LimitValues } from "../limits/index.js";
import {
  invokeDatastoreOperation,
  openNamespaceForGuest,
  type Datastore,
  type NamespacePolicy,
} from "../datastore/index.js";

/** The host facilities a runtime hands its guests. */
export interface HostFacilities {
  /** The datastore behind the guests' `datastore(name)`, and which namespaces they may open. */
  datastore?: { store: Datastore; namespaces: NamespacePolicy } | undefined;
}

/**
 * The host-call handler of one run or call: the guest's `datastore(name)`
 * operations on the runtime's datastore, each namespace capped at the run's
 * `maxDatastoreBytes`. Every argument comes from the guest and is checked by
 * the facility it names.
 */
export function hostCallHandler(facilities: HostFacilities, limits: LimitValues): HostCallHandler {
  return async (name, argsJson) => {
    if (name === "datastore") {
      const datastore = facilities.datastore;
      if (!datastore) throw new Error("datastore() is not available: this runtime has no datastore");
      const [namespace, op, args] = JSON.parse(argsJson) as [unknown, unknown, unknown];
      const opened = openNamespaceForGuest(datastore.store, namespace, datastore.namespaces, {
        maxDatastoreBytes: limits.maxDatastoreBytes,
      });
      const result = await invokeDatastoreOperation(opened, op, Array.isArray(args) ? args : []);
      return JSON.stringify(result) ?? "";
    }
    throw new Error(`${name} is not available in this sandbox`);
  };
}
