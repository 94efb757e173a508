// A module with input: warden run examples/transform.mjs --input '{"items":[3,1,2]}'
export default async function (input) {
  const items = input?.items ?? [];
  return { sorted: [...items].sort((a, b) => a - b), count: items.length };
}
