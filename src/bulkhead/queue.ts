/**
 * First-in first-out queues as doubly-linked lists. Every operation is O(1),
 * including taking out a node from the middle (an aborted or timed-out
 * waiter), which an array queue (`Array.shift()`, `splice`) cannot do.
 *
 * `LinkedList` is intrusive: the items are the nodes (they extend
 * {@link ListNode}), so queueing allocates nothing; an item can be in one
 * such list at a time. `LinkedQueue` wraps plain values in nodes.
 */

/** Base class of items of a {@link LinkedList}. */
export class ListNode {
  /** @internal */ prev: ListNode | undefined = undefined;
  /** @internal */ next: ListNode | undefined = undefined;
  // The owning list, cleared on removal: makes a second removal a no-op and
  // stops a node of one list from being unlinked from another.
  /** @internal */ owner: LinkedList<ListNode> | undefined = undefined;

  /** True while the node is in a list. */
  get linked(): boolean {
    return this.owner !== undefined;
  }
}

/** An intrusive FIFO list: O(1) push, shift, peek and removal of any node. */
export class LinkedList<N extends ListNode> {
  private head: N | undefined = undefined;
  private tail: N | undefined = undefined;
  private count = 0;

  /** Number of nodes in the list. */
  get size(): number {
    return this.count;
  }

  /** Appends a node; it must not be in any list. */
  push(node: N): void {
    if (node.owner !== undefined) throw new Error("LinkedList.push: the node is already in a list");
    node.owner = this as LinkedList<ListNode>;
    if (this.tail === undefined) {
      this.head = node;
    } else {
      this.tail.next = node;
      node.prev = this.tail;
    }
    this.tail = node;
    this.count++;
  }

  /** The oldest node, left in place. */
  peek(): N | undefined {
    return this.head;
  }

  /** Takes out and returns the oldest node. */
  shift(): N | undefined {
    const node = this.head;
    if (node !== undefined) this.unlink(node);
    return node;
  }

  /** Takes out a node; false when it is not (or no longer) in this list. */
  remove(node: N): boolean {
    if (node.owner !== (this as LinkedList<ListNode>)) return false;
    this.unlink(node);
    return true;
  }

  /** Nodes from oldest to newest (for diagnostics; O(n)). */
  *values(): IterableIterator<N> {
    for (let node = this.head; node !== undefined; node = node.next as N | undefined) yield node;
  }

  private unlink(node: N): void {
    const prev = node.prev as N | undefined;
    const next = node.next as N | undefined;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    if (next === undefined) this.tail = prev;
    else next.prev = prev;
    node.prev = undefined;
    node.next = undefined;
    node.owner = undefined;
    this.count--;
  }
}

/** One entry of a {@link LinkedQueue}; keep it to remove the entry later in O(1). */
export interface QueueNode<T> {
  /** The stored value. */
  readonly value: T;
}

class ValueNode<T> extends ListNode implements QueueNode<T> {
  constructor(readonly value: T) {
    super();
  }
}

/** A FIFO queue of plain values with O(1) push, shift, peek and removal of any node. */
export class LinkedQueue<T> {
  private readonly list = new LinkedList<ValueNode<T>>();

  /** Number of values in the queue. */
  get size(): number {
    return this.list.size;
  }

  /** Appends a value; returns its node, for {@link remove}. */
  push(value: T): QueueNode<T> {
    const node = new ValueNode(value);
    this.list.push(node);
    return node;
  }

  /** The oldest value, left in place. */
  peek(): T | undefined {
    return this.list.peek()?.value;
  }

  /** The oldest node, left in place. */
  peekNode(): QueueNode<T> | undefined {
    return this.list.peek();
  }

  /** Takes out and returns the oldest value. */
  shift(): T | undefined {
    return this.list.shift()?.value;
  }

  /** Takes out a node; false when it is not (or no longer) in this queue. */
  remove(node: QueueNode<T>): boolean {
    return node instanceof ValueNode && this.list.remove(node as ValueNode<T>);
  }

  /** Values from oldest to newest (for diagnostics; O(n)). */
  *values(): IterableIterator<T> {
    for (const node of this.list.values()) yield node.value;
  }
}

/** True when the node is still in some queue. */
export function isQueued(node: QueueNode<unknown>): boolean {
  return node instanceof ListNode && node.linked;
}
