// The README's first command runs this file: `npx warden run examples/hello.ts`.
// A TypeScript module: its default export is called with --input (here none) and awaited.
interface Greeting {
  message: string;
  primes: number[];
}

function isPrime(n: number): boolean {
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return n > 1;
}

export default async function main(input?: { upTo?: number }): Promise<Greeting> {
  const upTo = input?.upTo ?? 30;
  console.log(`finding primes up to ${upTo}`);
  const primes: number[] = [];
  for (let n = 2; n <= upTo; n++) if (isPrime(n)) primes.push(n);
  return { message: "hello from the sandbox", primes };
}
