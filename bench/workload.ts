/**
 * The mixed CPU workload both engine benchmarks use: recursion, loops, object
 * allocation, strings, JSON, sort and regular expressions. It is a script whose
 * completion value is a checksum, so every engine must really do the work.
 * It stays well inside the default profile (about 1.5 million instructions).
 */
export const MIXED_WORKLOAD = String.raw`
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
function work() {
  let checksum = fib(20);
  const items = [];
  for (let i = 0; i < 20000; i++) items.push({ id: i, name: "item" + i, score: (i * 7919) % 1000 });
  items.sort((a, b) => a.score - b.score || a.id - b.id);
  checksum += items[0].id + items[items.length - 1].id;
  const json = JSON.stringify(items.slice(0, 2000));
  checksum += JSON.parse(json).length + json.length;
  let text = "";
  for (let i = 0; i < 5000; i++) text += String.fromCharCode(97 + (i % 26));
  const words = text.match(/[a-m]+/g);
  checksum += words.length + text.replace(/[aeiou]/g, "").length;
  const counts = new Map();
  for (const w of text.split("")) counts.set(w, (counts.get(w) || 0) + 1);
  checksum += counts.size;
  return checksum;
}
work();
`;
