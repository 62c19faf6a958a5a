/**
 * Ending a command-line process without losing output. `process.exit()` drops whatever stdout and
 * stderr have not yet handed to the OS, and on a pipe Node writes asynchronously: `moecode eval --json |
 * consumer` lost everything past the first ~200 KB. So: wait until both streams have flushed, then exit.
 * A reader that went away (EPIPE, e.g. `| head`) ends the process quietly instead of with a stack trace.
 * `maxWaitMs` bounds the wait where a stuck reader must not keep the process (the daemon).
 */
let exiting = false;

export function exitAfterFlush(code: number, maxWaitMs?: number): void {
  if (exiting) return;
  exiting = true;
  process.exitCode = code;
  // a reader that stopped reading must not keep a process that wants to end alive forever
  if (maxWaitMs !== undefined) setTimeout(() => process.exit(code), maxWaitMs).unref();
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.destroyed || stream.writableEnded) done();
    else stream.write('', () => done());
  }
}

/** A closed stdout (the reader exited) ends the process with `code` instead of an uncaught EPIPE. */
export function exitQuietlyOnClosedStdout(code = 0): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(code);
    throw e;
  });
}
