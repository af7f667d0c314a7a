import ArgumentParser
import FlashgateCore
import FlashgateServer
import FlashgateUpstream
import Foundation

/// `flashgate top`: a live view of a running gateway's request rate, spend rate and cache hit
/// ratio, per team and in total, from its `GET /metrics` endpoint.
struct Top: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a running gateway's requests/s, $/hour and cache hit ratio per team, live.",
        discussion: """
            Scrapes the gateway's GET /metrics every --interval and shows the rates between the last two \
            scrapes: REQ/S (all requests), $/H (spend per hour), CACHE HIT % (cache hits over requests that \
            looked the cache up: hit, miss or joined), IN FLIGHT (total row only) and BUDGET LEFT (the \
            team's smallest remaining budget, in dollars), then upstream retries/s and any breaker that is \
            not closed. Runs until Ctrl-C; on a terminal each frame redraws the screen, otherwise frames \
            are printed one after another with no escape codes. --once prints a single frame after two \
            scrapes --interval apart, for scripts.

            The gateway is found the way `flashgate serve` would listen: --url or --socket if given, else \
            the listen address of --config, else 127.0.0.1:8088.
            """)

    @Option(name: .long, help: "Gateway base URL, e.g. http://127.0.0.1:8088 (/metrics is appended).")
    var url: String?

    @Option(name: .long, help: "Reach the gateway over this Unix socket instead of TCP.")
    var socket: String?

    @Option(name: .long, help: "YAML config file whose listen address to use when neither --url nor --socket is given.")
    var config: String?

    @Option(name: .long, help: "Time between scrapes, e.g. 2s, 500ms, 1m (at least 100ms).")
    var interval: String = "2s"

    @Flag(name: .long, help: "Print one frame after two scrapes --interval apart and exit.")
    var once = false

    func validate() throws {
        guard let duration = ConfigMap.parseDuration(interval), duration >= .milliseconds(100) else {
            throw ValidationError("--interval: expected a duration of at least 100ms such as 2s or 500ms, got '\(interval)'")
        }
        if url != nil && socket != nil { throw ValidationError("give --url or --socket, not both") }
        if let url, !url.hasPrefix("http://") && !url.hasPrefix("https://") {
            throw ValidationError("--url: expected an http:// or https:// URL, got '\(url)'")
        }
    }

    func run() async throws {
        let source = try resolveSource()
        let period = ConfigMap.parseDuration(interval) ?? .seconds(2)
        CurlTransport.ignoreSIGPIPE()
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let loop = TopLoop(
            interval: period, title: "flashgate top  \(source.label)  every \(TopLoop.seconds(period))",
            scrape: { try await source.fetch(with: transport, timeout: max(period, .seconds(5))) })
        if once {
            do {
                print(try await loop.once(), terminator: "")
            } catch {
                FileHandle.standardError.write(Data("flashgate: \(TopLoop.describe(error))\n".utf8))
                throw ExitCode(1)
            }
            return
        }
        let ansi = isatty(STDOUT_FILENO) == 1
        do {
            try await loop.run { frame in
                // One write per frame, so a redraw never shows half a table.
                let text = ansi ? TopView.clearScreen + frame : frame + "\n"
                try FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
            }
        } catch is CancellationError {
            return
        } catch {
            // stdout went away (`flashgate top | head`): nothing left to show.
            return
        }
    }

    private func resolveSource() throws -> MetricsSource {
        if let socket { return .unixSocket(socket) }
        if let url { return .tcp(url) }
        let environment = ProcessInfo.processInfo.environment
        let settings: FlashgateConfig
        do {
            settings = try config.map { try ConfigFile.load(path: $0, environment: environment) }
                ?? FlashgateConfig.embeddedDefaults(environment: environment)
        } catch {
            FileHandle.standardError.write(Data("\(config ?? "flashgate"): \(error)\n".utf8))
            throw ExitCode(2)
        }
        guard let source = MetricsSource.listening(settings.listen) else {
            FileHandle.standardError.write(Data("flashgate: the config listens on neither TCP nor a socket; give --url or --socket\n".utf8))
            throw ExitCode(2)
        }
        return source
    }
}
