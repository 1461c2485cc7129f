/** Cron expressions and time zones, checked without scheduling anything (trackers, maintenance). */
import { CronExpressionParser } from 'cron-parser';

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Five fields (minute hour day month weekday) or six (with seconds first), in the given zone. */
export function cronProblem(expression: string, timezone?: string): string | undefined {
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6)
    return `expected 5 cron fields (minute hour day month weekday), got ${fields}`;
  try {
    CronExpressionParser.parse(expression, timezone ? { tz: timezone } : {});
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
