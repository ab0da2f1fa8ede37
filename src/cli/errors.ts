/** An error caused by the user's input (flags, config, a port in use): printed as one clear line, no stack. */
export class UserError extends Error {}

/** Known user-facing error shapes from the parts we call. */
export function isUserFacing(e: unknown): e is Error {
  if (!(e instanceof Error)) return false;
  return (
    e instanceof UserError ||
    e.name === 'ConfigError' ||
    e.name === 'CaptureError' ||
    e.name === 'SymbolError' ||
    /in use|EADDRINUSE|cannot bind|invalid endpoint/i.test(e.message)
  );
}
