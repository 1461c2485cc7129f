/**
 * A reader that stops early (`strata run … | head -1`) closes the pipe, and the next write
 * fails with EPIPE. The rest of the output is not wanted: the command ends there, quietly
 * and successfully, as Unix tools do, instead of crashing with a stack trace. Any other
 * output error is still thrown.
 */
export function endQuietlyWhenOutputCloses(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit();
  });
  // Nothing can be reported once stderr's reader is gone either; the command goes on.
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}
