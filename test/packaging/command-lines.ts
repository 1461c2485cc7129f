/**
 * What the packaging tests check deployment files against, taken from the code itself: the
 * CLI's commander tree (`program` from src/cli.ts, which parses nothing when imported) and the
 * routes of the `strata serve` application (the NestJS module tree, read from its decorators'
 * metadata without starting anything).
 */
import 'reflect-metadata';
import { RequestMethod, type DynamicModule, type Type } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import type { Command, Option } from 'commander';
import { program } from '../../src/cli.js';
import { AppModule } from '../../src/service/app.module.js';
import { PUBLIC_ROUTE } from '../../src/service/auth/auth.guard.js';
import type { ResolvedServiceOptions } from '../../src/service/options.js';

export { program };

/** The subcommand `args` name and the options and arguments it was given. */
export interface CommandLine {
  /** e.g. ['pipeline', 'run'] */
  command: string[];
  /** long option name -> value (true for a flag; false for a `--no-` flag). */
  options: Map<string, string | boolean>;
  positionals: string[];
}

function findOption(cmd: Command, token: string): Option | undefined {
  for (let c: Command | null = cmd; c; c = c.parent) {
    const found = c.options.find((o) => o.long === token || o.short === token);
    if (found) return found;
  }
  return undefined;
}

/**
 * Reads `args` (what follows `strata`) as commander would, and returns the problems: an unknown
 * command or option, an option missing its value, too many or too few arguments. Options of a
 * parent command (`--project`, `--verbose`) are accepted anywhere, as commander does.
 */
export function parseCommandLine(
  args: readonly string[],
  root: Command = program,
): { line: CommandLine; problems: string[] } {
  const problems: string[] = [];
  const options = new Map<string, string | boolean>();
  const positionals: string[] = [];
  const command: string[] = [];
  let cmd = root;
  let i = 0;
  const takeOption = (): void => {
    const token = args[i]!;
    const [name, inline] = token.includes('=')
      ? [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)]
      : [token, undefined];
    const option = findOption(cmd, name);
    i += 1;
    if (!option) {
      problems.push(`${[root.name(), ...command].join(' ')}: unknown option '${name}'`);
      return;
    }
    const key = option.attributeName();
    if (option.required) {
      const value = inline ?? args[i];
      if (value === undefined || (inline === undefined && value.startsWith('-'))) {
        problems.push(`${name} expects a value`);
        return;
      }
      if (inline === undefined) i += 1;
      options.set(key, value);
    } else if (option.optional) {
      if (inline !== undefined) options.set(key, inline);
      else if (args[i] !== undefined && !args[i]!.startsWith('-') && cmd.commands.length === 0) {
        options.set(key, args[i]!);
        i += 1;
      } else options.set(key, true);
    } else {
      if (inline !== undefined) problems.push(`${name} takes no value`);
      options.set(key, !option.negate);
    }
  };
  while (i < args.length) {
    const token = args[i]!;
    if (token.startsWith('-')) {
      takeOption();
      continue;
    }
    if (cmd.commands.length > 0 && positionals.length === 0) {
      const sub = cmd.commands.find((c) => c.name() === token || c.aliases().includes(token));
      if (!sub) {
        problems.push(`${[root.name(), ...command].join(' ')}: unknown command '${token}'`);
        return { line: { command, options, positionals }, problems };
      }
      cmd = sub;
      command.push(token);
      i += 1;
      continue;
    }
    positionals.push(token);
    i += 1;
  }
  if (cmd.commands.length > 0 && cmd !== root)
    problems.push(`${[root.name(), ...command].join(' ')}: needs a subcommand`);
  const declared = cmd.registeredArguments;
  const variadic = declared.some((a) => a.variadic);
  const required = declared.filter((a) => a.required).length;
  if (!variadic && positionals.length > declared.length)
    problems.push(`${[root.name(), ...command].join(' ')}: too many arguments (${positionals.join(' ')})`);
  if (positionals.length < required)
    problems.push(`${[root.name(), ...command].join(' ')}: missing a required argument`);
  return { line: { command, options, positionals }, problems };
}

export interface Route {
  method: string;
  path: string;
  /** Open to callers without a credential (`@Public()`). */
  public: boolean;
  controller: string;
}

function join(...parts: string[]): string {
  const path = parts
    .flatMap((p) => p.split('/'))
    .filter((p) => p.length > 0)
    .join('/');
  return `/${path}`;
}

/** Every route `strata serve` registers: the controllers of AppModule and of the modules it imports. */
export function serviceRoutes(): Route[] {
  const root = AppModule.forRoot({} as ResolvedServiceOptions);
  const routes: Route[] = [];
  const seen = new Set<unknown>();
  const visit = (entry: Type | DynamicModule): void => {
    const moduleClass = 'module' in entry ? entry.module : entry;
    if (seen.has(entry)) return;
    seen.add(entry);
    const controllers: Type[] = [
      ...((Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, moduleClass) as Type[] | undefined) ?? []),
      ...('module' in entry ? (entry.controllers ?? []) : []),
    ];
    const imports = [
      ...((Reflect.getMetadata(MODULE_METADATA.IMPORTS, moduleClass) as
        (Type | DynamicModule)[] | undefined) ?? []),
      ...('module' in entry ? ((entry.imports ?? []) as (Type | DynamicModule)[]) : []),
    ];
    for (const controller of controllers) {
      const prefixes = [
        (Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined) ?? '/',
      ].flat();
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = (controller.prototype as Record<string, unknown>)[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        if (method === undefined || paths === undefined) continue;
        const isPublic =
          Reflect.getMetadata(PUBLIC_ROUTE, handler) === true ||
          Reflect.getMetadata(PUBLIC_ROUTE, controller) === true;
        for (const prefix of prefixes)
          for (const path of [paths].flat())
            routes.push({
              method: RequestMethod[method],
              path: join(prefix, path),
              public: isPublic,
              controller: controller.name,
            });
      }
    }
    for (const imported of imports) visit(imported);
  };
  visit(root);
  return routes;
}
