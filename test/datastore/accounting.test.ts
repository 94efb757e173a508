// Byte accounting and the cap, as one suite against each local backend.
import { afterEach } from "node:test";
import { BACKENDS, cleanUp } from "./helpers.js";
import { accountingSuite } from "./suites/accounting.js";

afterEach(cleanUp);

for (const backend of BACKENDS) accountingSuite(backend);
