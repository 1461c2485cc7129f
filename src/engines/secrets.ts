/** `env:NAME` references: credentials live in the environment, never in definition files. */
export function resolveSecret(reference: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!reference.startsWith('env:')) return reference;
  const name = reference.slice(4);
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`environment variable ${name} is not set`);
  return value;
}
