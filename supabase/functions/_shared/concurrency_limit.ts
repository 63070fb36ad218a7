// Load shedding: a bound on the requests one function instance works on at
// once. Past it, a request is refused at once (503 with Retry-After, before its
// database work) rather than queued for a database connection: an unbounded
// queue turns a burst into waits longer than the SDKs' own timeouts (10 s for
// analytics-node), and each client that gives up sends its batch again while
// the first copy is still queued, which deepens the overload it is caught in.

export class ConcurrencyLimit {
  #inFlight = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new Error(
        `a concurrency limit is a positive integer, not ${limit}`,
      );
    }
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Takes a slot: a release function, or null when all are taken. */
  tryAcquire(): (() => void) | null {
    if (this.#inFlight >= this.limit) return null;
    this.#inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight--;
    };
  }
}

/** A positive integer from the environment, else the default. */
export function limitFromEnv(name: string, fallback: number): number {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer, not "${raw}"`);
  }
  return value;
}
