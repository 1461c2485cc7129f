/**
 * A client of the real yaml-language-server (1.25, over stdio): tests of the JSON Schemas
 * ask it what an editor would show, completion items and diagnostics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CompletionRequest,
  ConfigurationRequest,
  createProtocolConnection,
  DidChangeConfigurationNotification,
  DidOpenTextDocumentNotification,
  ExitNotification,
  HoverRequest,
  InitializedNotification,
  InitializeRequest,
  PublishDiagnosticsNotification,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  type CompletionItem,
  type Diagnostic,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node.js';

const require = createRequire(import.meta.url);
const SERVER = join(
  dirname(require.resolve('yaml-language-server/package.json')),
  'bin',
  'yaml-language-server',
);

export interface YamlSettings {
  /** Schema URI or path (relative: to the workspace) -> globs of the files it applies to. */
  schemas?: Record<string, string[]>;
}

export class YamlLanguageServer {
  private readonly diagnostics = new Map<string, Diagnostic[]>();
  private readonly waiting = new Map<string, (d: Diagnostic[]) => void>();
  private version = 0;

  private constructor(
    private readonly child: ChildProcess,
    private readonly connection: ProtocolConnection,
  ) {
    connection.onNotification(PublishDiagnosticsNotification.type, ({ uri, diagnostics }) => {
      this.diagnostics.set(uri, diagnostics);
      this.waiting.get(uri)?.(diagnostics);
    });
  }

  /** Starts the server for a workspace folder, with these `yaml` settings. */
  static async start(workspace: string, settings: YamlSettings): Promise<YamlLanguageServer> {
    const child = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const connection = createProtocolConnection(
      new StreamMessageReader(child.stdout!),
      new StreamMessageWriter(child.stdin!),
    );
    const yaml = { validate: true, completion: true, hover: true, ...settings };
    // 1.25 pulls its settings (yaml, http, [yaml], editor) with workspace/configuration.
    connection.onRequest(ConfigurationRequest.type, (params) =>
      params.items.map((item) => (item.section === 'yaml' ? yaml : {})),
    );
    const server = new YamlLanguageServer(child, connection);
    connection.listen();
    const rootUri = pathToFileURL(workspace).href;
    await connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri,
      workspaceFolders: [{ uri: rootUri, name: 'project' }],
      capabilities: {
        workspace: { configuration: true, workspaceFolders: true },
        textDocument: {
          completion: { completionItem: { snippetSupport: false } },
          publishDiagnostics: {},
        },
      },
    });
    await connection.sendNotification(InitializedNotification.type, {});
    await connection.sendNotification(DidChangeConfigurationNotification.type, { settings: { yaml } });
    return server;
  }

  /** Opens a document and waits for the diagnostics the server publishes for it. */
  async open(path: string, text: string): Promise<Diagnostic[]> {
    const uri = pathToFileURL(path).href;
    const published = new Promise<Diagnostic[]>((resolve) => this.waiting.set(uri, resolve));
    await this.connection.sendNotification(DidOpenTextDocumentNotification.type, {
      textDocument: { uri, languageId: 'yaml', version: ++this.version, text },
    });
    return published;
  }

  async complete(path: string, line: number, character: number): Promise<CompletionItem[]> {
    const result = await this.connection.sendRequest(CompletionRequest.type, {
      textDocument: { uri: pathToFileURL(path).href },
      position: { line, character },
    });
    if (result === null) return [];
    return Array.isArray(result) ? result : result.items;
  }

  /** The hover text at a position (markdown), empty when there is none. */
  async hover(path: string, line: number, character: number): Promise<string> {
    const result = await this.connection.sendRequest(HoverRequest.type, {
      textDocument: { uri: pathToFileURL(path).href },
      position: { line, character },
    });
    const contents = result?.contents;
    if (contents === undefined) return '';
    if (typeof contents === 'string') return contents;
    if (Array.isArray(contents)) return contents.map((c) => (typeof c === 'string' ? c : c.value)).join('\n');
    return contents.value;
  }

  async stop(): Promise<void> {
    try {
      await this.connection.sendRequest(ShutdownRequest.type);
      await this.connection.sendNotification(ExitNotification.type);
    } finally {
      this.connection.dispose();
      if (this.child.exitCode === null) this.child.kill();
    }
  }
}
