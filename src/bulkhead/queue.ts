/**
 * A first-in first-out queue as a doubly-linked list. Every operation is O(1),
 * including taking out a node from the middle (an aborted or timed-out
 * waiter), which an array queue (`Array.shift()`, `splice`) cannot do.
 */

/** One entry of a {@link LinkedQueue}; keep it to remove the entry later in O(1). */
export interface QueueNode<T> {
  /** The stored value. */
  readonly value: T;
}

class Node<T> implements QueueNode<T> {
  prev: Node<T> | undefined = undefined;
  next: Node<T> | undefined = undefined;
  // The owning queue, cleared on removal: makes a second removal a no-op and
  // stops a node from one queue being unlinked from another.
  owner: LinkedQueue<T> | undefined;
  constructor(
    readonly value: T,
    owner: LinkedQueue<T>,
  ) {
    this.owner = owner;
  }
}

/** A FIFO queue with O(1) push, shift, peek and removal of any node. */
export class LinkedQueue<T> {
  private head: Node<T> | undefined = undefined;
  private tail: Node<T> | undefined = undefined;
  private count = 0;

  /** Number of values in the queue. */
  get size(): number {
    return this.count;
  }

  /** Appends a value; returns its node, for {@link remove}. */
  push(value: T): QueueNode<T> {
    const node = new Node(value, this);
    if (this.tail === undefined) {
      this.head = node;
    } else {
      this.tail.next = node;
      node.prev = this.tail;
    }
    this.tail = node;
    this.count++;
    return node;
  }

  /** The oldest value, left in place. */
  peek(): T | undefined {
    return this.head?.value;
  }

  /** The oldest node, left in place. */
  peekNode(): QueueNode<T> | undefined {
    return this.head;
  }

  /** Takes out and returns the oldest value. */
  shift(): T | undefined {
    const node = this.head;
    if (node === undefined) return undefined;
    this.unlink(node);
    return node.value;
  }

  /** Takes out a node; false when it is not (or no longer) in this queue. */
  remove(node: QueueNode<T>): boolean {
    const n = node as Node<T>;
    if (n.owner !== this) return false;
    this.unlink(n);
    return true;
  }

  /** Values from oldest to newest (for diagnostics; O(n)). */
  *values(): IterableIterator<T> {
    for (let node = this.head; node !== undefined; node = node.next) yield node.value;
  }

  private unlink(node: Node<T>): void {
    if (node.prev === undefined) this.head = node.next;
    else node.prev.next = node.next;
    if (node.next === undefined) this.tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = undefined;
    node.next = undefined;
    node.owner = undefined;
    this.count--;
  }
}

/** True when the node is still in some queue. */
export function isQueued(node: QueueNode<unknown>): boolean {
  return (node as Node<unknown>).owner !== undefined;
}
