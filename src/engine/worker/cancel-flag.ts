/**
 * Cancellation shared between the main thread and the worker through a SharedArrayBuffer. The worker spends
 * most of a job inside onnxruntime's synchronous run(), where it cannot receive messages; a shared cell can
 * still be read between steps, so a cancel takes effect at the next step instead of after the whole job.
 */
export class CancelFlag {
  private readonly cell: Int32Array;

  /** `buffer`: the worker side passes the buffer it received; the main side lets a new one be made. */
  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)) {
    this.cell = new Int32Array(buffer);
  }

  /**
   * Asks job `jobId` to stop. The cell holds a job id rather than a boolean, so a late cancel of a job that has
   * already finished can never stop the job that runs after it. Job ids start at 1; 0 means "none".
   */
  request(jobId: number): void {
    Atomics.store(this.cell, 0, jobId);
  }

  isRequested(jobId: number): boolean {
    return Atomics.load(this.cell, 0) === jobId;
  }
}
