// Every operation, run as one suite against each local backend.
import { afterEach } from "node:test";
import { BACKENDS, cleanUp } from "./helpers.js";
import { operationsSuite } from "./suites/operations.js";

afterEach(cleanUp);

for (const backend of BACKENDS) operationsSuite(backend);
