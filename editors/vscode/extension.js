// Starts `flashc lsp` for every flash.yaml (and the Rust files of handler crates, so unsaved
// edits to a handler re-check flash.yaml). Not published: install with
//   cd editors/vscode && npm install && npx @vscode/vsce package && code --install-extension flashc-0.1.0.vsix
// or run it from this folder with "Run Extension" (F5).
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("flashc");
  const command = config.get("path", "flashc");
  const args = ["lsp", "--debounce-ms", String(config.get("debounceMs", 0))];
  const serverOptions = {
    run: { command, args, transport: TransportKind.stdio },
    debug: { command, args, transport: TransportKind.stdio },
  };
  const clientOptions = {
    documentSelector: [
      { scheme: "file", pattern: "**/flash.yaml" },
      { scheme: "file", pattern: "**/flash.*.yaml" },
      { scheme: "file", language: "rust" },
    ],
    synchronize: {
      fileEvents: [
        vscode.workspace.createFileSystemWatcher("**/*.rs"),
        vscode.workspace.createFileSystemWatcher("**/Cargo.toml"),
      ],
    },
  };
  client = new LanguageClient("flashc", "flashc", serverOptions, clientOptions);
  client.start();
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
