import ArgumentParser
import FlashgateCore
import FlashgateServer
import Foundation
import Logging

/// `flashgate serve`: load the config, open the store, listen, and run until SIGTERM or SIGINT;
/// SIGHUP reloads the config from the same file, flags and environment.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the OpenAI (chat, Responses, embeddings) and native Gemini APIs (the default command).",
        discussion: """
            Flags override the config file; with no file the embedded defaults apply.

            Responses stored with store: true (POST /v1/responses) are kept per team for responses.ttl \
            (default 720h) in the store; the secret that seals thought signatures into reasoning items is \
            <store>/responses.secret.

            SIGHUP reloads the configuration: the same file is read again with the same flags and environment, \
            validated, and applied to new requests (requests in flight finish on the old one). A file that does \
            not load is refused with a logged reason and the running configuration stays. Listen addresses, \
            limits, the store, the cache size and on/off, the log level and format, the accounting mode and \
            time zone, and ledger.* need a restart. SIGTERM or SIGINT stop gracefully, handing unused budget \
            leases back to the ledger.

            The usage ledger (<store>/ledger) holds money: ledger.durability lease (default) admits paid calls \
            against budget leases made durable ahead of need and commits their rows behind the answer; \
            per_request makes each call's reservation and row durable first. From 90 % of ledger.max_size paid \
            calls are refused with 503 ledger_full (run `flashgate ledger compact` or raise ledger.max_size); \
            Flashgate still starts on a full ledger.

            Automatic context caching (context_cache.*, on by default, reloadable): a system prompt, tools and \
            tool config a team keeps sending become a Gemini cachedContents resource on an AI Studio route when \
            the planner's forecast says its reads save more than its creation and rent; the team pays both \
            (context_create and context_storage ledger rows). teams[].context_cache: false or the request \
            header x-flashgate-context-cache: off opt out. /v1beta/cachedContents passes through per team.
            """)

    @Option(name: .long, help: "YAML config file (see deploy/flashgate.example.yaml).")
    var config: String?

    @Option(name: .long, help: "TCP address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "TCP port to listen on (default 8088; 0 picks a free port).")
    var port: Int?

    @Flag(name: .long, help: "Do not listen on TCP (use with --socket).")
    var noTcp = false

    @Option(name: .long, help: "Also listen on this Unix socket path.")
    var socket: String?

    @Option(name: .long, help: "Store directory for the LMDB environment (default ./.flashgate).")
    var store: String?

    @Option(
        name: .long,
        help: "Serve one Gemini route at this base URL (e.g. https://generativelanguage.googleapis.com) that passes any model id through; key from GEMINI_API_KEY."
    )
    var upstream: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        // Start and every reload read the config the same way: the file, then the flags.
        let load: @Sendable () throws -> FlashgateConfig = { [self] in
            var settings =
                try config.map { try ConfigFile.load(path: $0, environment: environment) }
                ?? FlashgateConfig.embeddedDefaults(environment: environment)
            try applyFlags(to: &settings, environment: environment)
            return settings
        }
        let settings: FlashgateConfig
        do {
            settings = try load()
        } catch {
            FileHandle.standardError.write(Data("flashgate: invalid configuration: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let level = Logger.Level(rawValue: settings.log.level) ?? .info
        let format = settings.log.format
        LoggingSystem.bootstrap { LogFormatHandler(label: $0, level: level, format: format) }
        // Before any of Flashgate's threads start: each applies it to itself.
        ThreadScheduling.choose(settings.scheduling)
        // Log lines (the access log's, one a request) go out in batches while Flashgate serves:
        // within 0.1 s, at once for a warning or worse, and all of them before it exits.
        BatchedLines.standardError.startBuffering()
        do {
            let runtime = try Runtime(config: settings, logger: Logger(label: "flashgate"), reload: load)
            try await runtime.run()
            BatchedLines.standardError.stopBuffering()
        } catch {
            BatchedLines.standardError.stopBuffering()
            FileHandle.standardError.write(Data("flashgate: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func applyFlags(to settings: inout FlashgateConfig, environment: [String: String]) throws {
        if let host { settings.listen.host = host }
        if let port {
            guard (0...65535).contains(port) else { throw ConfigError(path: "--port", reason: "expected 0 to 65535") }
            settings.listen.port = port
        }
        if noTcp { settings.listen.host = nil }
        if let socket { settings.listen.socketPath = socket }
        if settings.listen.host == nil && settings.listen.socketPath == nil {
            throw ConfigError(path: "--no-tcp", reason: "TCP is off and no --socket is set")
        }
        if let store { settings.store.path = store }
        if var upstream {
            while upstream.hasSuffix("/") { upstream.removeLast() }
            guard upstream.hasPrefix("http://") || upstream.hasPrefix("https://") else {
                throw ConfigError(path: "--upstream", reason: "expected an http:// or https:// URL")
            }
            let key = environment["GEMINI_API_KEY"].flatMap { $0.isEmpty ? nil : Secret($0) }
            settings.routes = [
                RouteConfig(name: "upstream", kind: .gemini, baseURL: upstream, apiKey: key, passthrough: true)
            ]
            settings.models = []
        }
    }
}
