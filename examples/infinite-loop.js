// Never ends on its own. `warden run examples/infinite-loop.js` stops it at the
// instruction budget (exit code 3, "instruction limit exceeded (10000000)");
// with `--timeout 50ms --max-instructions -1` the wall-clock timeout stops it
// instead ("execution timeout after 50ms").
let spins = 0;
while (true) spins++;
