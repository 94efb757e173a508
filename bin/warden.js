#!/usr/bin/env node
// Entry point of the `warden` command. Guests never run in this process: V8
// isolates live in sandbox child processes and QuickJS in worker threads.
const { main } = await import("../dist/cli/main.js");
process.exitCode = await main(process.argv.slice(2));
