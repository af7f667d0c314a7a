import ArgumentParser

/// The `flashgate` command: serve by default, plus configuration checks and cache maintenance.
@main
struct Flashgate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flashgate",
        abstract: "A local gateway to the Gemini API: OpenAI and native Gemini endpoints on a localhost port or Unix socket.",
        discussion: """
            With no config file, Flashgate listens on 127.0.0.1:8088, keeps its store in ./.flashgate and \
            forwards to Google AI Studio with the key in GEMINI_API_KEY; without that key it serves the \
            built-in offline mock model. Secrets come only from environment variables or files the config names.
            """,
        subcommands: [
            Serve.self, Check.self, Keys.self, Cache.self, Usage.self, LedgerCommand.self, Top.self, LedgerTorture.self,
        ],
        defaultSubcommand: Serve.self
    )
}
