/** How late the main thread's event loop runs timers while some work is in progress (what a heartbeat would feel). */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface EventLoopLag {
  /** Worst delay of a timer beyond its due time, in ms. */
  maxMs: number;
  p99Ms: number;
  /** Timer turns observed (few when the loop was blocked). */
  samples: number;
}

const RESOLUTION_MS = 10;
const NS_PER_MS = 1e6;

/** Runs `work` while sampling the event loop every 10 ms. */
export async function withEventLoopLag<T>(work: () => Promise<T>): Promise<{ result: T; lag: EventLoopLag }> {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  try {
    const result = await work();
    histogram.disable();
    // The histogram records whole intervals between samples: an idle loop reads about 10 ms, not 0.
    const lateness = (ns: number): number => Math.max(0, ns / NS_PER_MS - RESOLUTION_MS);
    return { result, lag: { maxMs: lateness(histogram.max), p99Ms: lateness(histogram.percentile(99)), samples: histogram.count } };
  } finally {
    histogram.disable();
  }
}
