/**
 * onnxruntime-node 1.30 starts a telemetry system when it creates its environment (at the first session): it
 * keeps a device id in ~/.cache/Microsoft/DeveloperTools/.onnxruntime, may upload over HTTPS, and matches
 * regular expressions against /proc/self/cmdline with a recursive matcher, whose stack runs out on a command
 * line with one argument of ~15,000 characters (a long --prompt): a segfault, in a worker thread (4 MB stack)
 * first. A self-hosted bot sends nothing home, and ORT reads only the process environment (getenv) to turn it
 * off. A worker thread's process.env is a copy that getenv never sees, so this must run on the main thread
 * before the first session of any thread: EngineWorker calls it before spawning its worker, and session
 * creation calls it for sessions on the main thread.
 */
import { isMainThread } from 'node:worker_threads';

export function disableOrtTelemetry(): void {
  // An operator who set the variable either way keeps their choice.
  if (isMainThread) process.env.ORT_DISABLE_TELEMETRY ??= '1';
}
