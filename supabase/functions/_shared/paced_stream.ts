// A response body written by a producer that waits for the reader: each write
// resolves only once the stream's queue has room again, so a slow client
// holds the producer (and the database cursor behind it) instead of the
// function buffering the whole result in memory. A client that goes away
// makes the next write throw, which ends the producer and its transaction.

export type PacedWriter = {
  /** Queues a chunk; resolves when the reader has made room for more. */
  write(chunk: Uint8Array): Promise<void>;
};

export class ReaderGone extends Error {
  constructor() {
    super("the reader cancelled the stream");
  }
}

/**
 * A ReadableStream fed by `produce`, holding at most `highWaterMark` chunks
 * the reader has not taken yet.
 */
export function pacedStream(
  produce: (writer: PacedWriter) => Promise<void>,
  { highWaterMark = 4, onError }: {
    highWaterMark?: number;
    onError?: (err: unknown) => void;
  } = {},
): ReadableStream<Uint8Array> {
  let room: (() => void) | null = null;
  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const writer: PacedWriter = {
        async write(chunk) {
          if (cancelled) throw new ReaderGone();
          controller.enqueue(chunk);
          while (!cancelled && (controller.desiredSize ?? 1) <= 0) {
            await new Promise<void>((resolve) => (room = resolve));
          }
          if (cancelled) throw new ReaderGone();
        },
      };
      // Not awaited: start() must return for the reader to begin pulling.
      produce(writer).then(
        () => {
          if (!cancelled) controller.close();
        },
        (err) => {
          if (cancelled && err instanceof ReaderGone) return;
          onError?.(err);
          if (!cancelled) controller.error(err);
        },
      );
    },
    pull() {
      room?.();
      room = null;
    },
    cancel() {
      cancelled = true;
      room?.();
      room = null;
    },
  }, { highWaterMark });
}
