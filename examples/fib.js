// A script: the result is the value of the last expression.
// Try: warden run examples/fib.js --max-depth 20   (the recursion limit trips)
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
fib(25);
