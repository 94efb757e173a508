import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { LinkedList, LinkedQueue, ListNode, type QueueNode } from "../../src/bulkhead/queue.js";

test("push, peek and shift keep first-in first-out order", () => {
  const queue = new LinkedQueue<number>();
  assert.equal(queue.shift(), undefined);
  for (const n of [1, 2, 3]) queue.push(n);
  assert.equal(queue.size, 3);
  assert.equal(queue.peek(), 1);
  assert.deepEqual([queue.shift(), queue.shift(), queue.shift(), queue.shift()], [1, 2, 3, undefined]);
  assert.equal(queue.size, 0);
});

test("a node is removed from the middle, the head or the tail, once", () => {
  const queue = new LinkedQueue<string>();
  const [a, b, c, d] = ["a", "b", "c", "d"].map((v) => queue.push(v)) as [
    QueueNode<string>,
    QueueNode<string>,
    QueueNode<string>,
    QueueNode<string>,
  ];
  assert.equal(queue.remove(b), true);
  assert.equal(queue.remove(b), false, "second removal is a no-op");
  assert.equal(queue.remove(a), true);
  assert.equal(queue.remove(d), true);
  assert.deepEqual([...queue.values()], ["c"]);
  assert.equal(queue.peekNode(), c);
  assert.equal(queue.shift(), "c");
  assert.equal(queue.remove(c), false, "a shifted node is no longer queued");
});

test("a node of another queue is not removed", () => {
  const one = new LinkedQueue<number>();
  const two = new LinkedQueue<number>();
  const node = one.push(1);
  two.push(2);
  assert.equal(two.remove(node), false);
  assert.equal(one.size, 1);
  assert.equal(two.size, 1);
});

test("behaves like an array model under random push, shift and remove", () => {
  const command = fc.oneof(
    fc.record({ op: fc.constant("push" as const), value: fc.integer() }),
    fc.record({ op: fc.constant("shift" as const) }),
    fc.record({ op: fc.constant("remove" as const), pick: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.array(command, { maxLength: 200 }), (commands) => {
      const queue = new LinkedQueue<number>();
      const model: { value: number; node: QueueNode<number> }[] = [];
      const removedNodes: QueueNode<number>[] = [];
      for (const c of commands) {
        if (c.op === "push") {
          model.push({ value: c.value, node: queue.push(c.value) });
        } else if (c.op === "shift") {
          const expected = model.shift();
          assert.equal(queue.shift(), expected?.value);
          if (expected) removedNodes.push(expected.node);
        } else if (model.length > 0) {
          const [gone] = model.splice(c.pick % model.length, 1);
          assert.equal(queue.remove(gone!.node), true);
          removedNodes.push(gone!.node);
        } else if (removedNodes.length > 0) {
          assert.equal(queue.remove(removedNodes[c.pick % removedNodes.length]!), false);
        }
        assert.equal(queue.size, model.length);
        assert.equal(queue.peek(), model[0]?.value);
      }
      assert.deepEqual(
        [...queue.values()],
        model.map((m) => m.value),
      );
    }),
  );
});

class Item extends ListNode {
  constructor(readonly name: string) {
    super();
  }
}

test("the intrusive list links the items themselves, one list at a time", () => {
  const one = new LinkedList<Item>();
  const two = new LinkedList<Item>();
  const [a, b, c] = [new Item("a"), new Item("b"), new Item("c")];
  for (const item of [a, b, c]) one.push(item);
  assert.throws(() => two.push(b), /already in a list/);
  assert.equal(two.remove(b), false);
  assert.equal(one.remove(b), true);
  assert.equal(b.linked, false);
  two.push(b);
  assert.deepEqual(
    [...one.values()].map((i) => i.name),
    ["a", "c"],
  );
  assert.equal(one.shift(), a);
  assert.equal(one.peek(), c);
  assert.equal(one.size, 1);
  assert.equal(two.size, 1);
});
