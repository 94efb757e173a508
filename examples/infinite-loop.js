// Never ends on its own. Try: warden run examples/infinite-loop.js --timeout 50ms
// (exit code 3, "execution timeout after 50ms"), or --max-instructions 1000000.
let spins = 0;
while (true) spins++;
