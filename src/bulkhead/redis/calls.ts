/**
 * The scripts as loaded into Redis (by SHA-1), and how to tell Redis's own
 * error replies from lost connections.
 */
import { createHash } from "node:crypto";
import * as LUA from "./scripts.js";

/** A Lua script and its SHA-1, for EVALSHA. */
export interface Script {
  readonly lua: string;
  readonly sha: string;
}

const script = (lua: string): Script => ({ lua, sha: createHash("sha1").update(lua).digest("hex") });
/** Every script of the store, by name. */
export const SCRIPTS = {
  acquire: script(LUA.ACQUIRE),
  enqueue: script(LUA.ENQUEUE),
  release: script(LUA.RELEASE),
  remove: script(LUA.REMOVE),
  inbox: script(LUA.INBOX),
  heartbeat: script(LUA.HEARTBEAT),
  sync: script(LUA.SYNC),
  leave: script(LUA.LEAVE),
};

/** Redis answered with an error of its own (a reply), not a connection failure. */
export function isReply(error: unknown): error is Error {
  return error instanceof Error && error.name === "ReplyError";
}

/** A reply meaning this instance's lease was lost (it must re-join). */
export function isNoLease(error: unknown): boolean {
  return isReply(error) && error.message.startsWith("NOLEASE");
}

/** A reply meaning Redis cannot serve now (loading, read-only replica, busy script...). */
export function isTransientReply(error: unknown): boolean {
  return isReply(error) && /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)/.test(error.message);
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "(unreadable URL)";
  }
}
