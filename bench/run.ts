/**
 * `npm run bench`: every benchmark, each printing its figures side by side with
 * the peer it is compared to. `npm run bench -- v8` (or quickjs, bulkhead, bulkhead-redis, throughput, warm, serve) runs one.
 */
const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith("-"));
const suites: Record<string, () => Promise<unknown>> = {
  v8: async () => (await import("./v8.js")).main(),
  quickjs: async () => (await import("./quickjs.js")).main(),
  bulkhead: async () => (await import("./bulkhead.js")).main(),
  "bulkhead-redis": async () => (await import("./bulkhead-redis.js")).main(),
  throughput: async () => (await import("./throughput.js")).main(),
  warm: async () => (await import("./warm.js")).main(),
  serve: async () => (await import("./serve.js")).main(),
};

for (const [name, run] of Object.entries(suites)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  try {
    await run();
  } catch (error) {
    console.error(`benchmark ${name} failed: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
