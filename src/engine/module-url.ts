/**
 * URLs of modules that are loaded by URL (a worker's entry, a handler module): the sibling module with the
 * caller's own extension, `.ts` when the sources run (tsx, ts-jest), `.js` when the build in dist/ runs.
 */
export function siblingModule(callerUrl: string, relativeStem: string): URL {
  const extension = /\.[cm]?[jt]s$/.exec(new URL(callerUrl).pathname)?.[0] ?? '.js';
  return new URL(`${relativeStem}${extension}`, callerUrl);
}

/** True when the caller is built JavaScript rather than TypeScript run through a loader. */
export const isBuiltModule = (callerUrl: string): boolean => /\.[cm]?js$/.test(new URL(callerUrl).pathname);
