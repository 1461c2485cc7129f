/** Debian's chromium through playwright-core, for the catalog's page tests (CI installs it: .ci/run). */
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** The Debian binary; a missing one fails the tests with a clear message, never a silent skip. */
export function chromiumPath(): string {
  const path = process.env.STRATA_CHROMIUM ?? '/usr/bin/chromium';
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(
      `chromium not found at ${path}: install it (apt-get install -y chromium) or set STRATA_CHROMIUM`,
    );
  }
  return path;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
