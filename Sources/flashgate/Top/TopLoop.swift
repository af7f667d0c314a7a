import FlashgateCore

/// Where `flashgate top` reads metrics: a gateway's base URL, or its Unix socket.
package struct MetricsSource: Sendable, Equatable {
    /// The full URL of the metrics endpoint (`…/metrics`).
    package var url: String
    /// When set, the request goes over this socket; `url` then only gives the path.
    package var unixSocketPath: String?

    /// `base` is a gateway's base URL (`http://127.0.0.1:8088`); `/metrics` is appended unless
    /// the URL already ends with it.
    package static func tcp(_ base: String) -> MetricsSource {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        return MetricsSource(url: base.hasSuffix("/metrics") ? base : base + "/metrics", unixSocketPath: nil)
    }

    package static func unixSocket(_ path: String) -> MetricsSource {
        MetricsSource(url: "http://localhost/metrics", unixSocketPath: path)
    }

    /// Where a gateway serving with `listen` can be reached from this host: its TCP address (a
    /// wildcard bind is reached on loopback), else its Unix socket; nil when it has neither.
    package static func listening(_ listen: ListenConfig) -> MetricsSource? {
        if let host = listen.host {
            let reachable: String
            switch host {
            case "", "0.0.0.0": reachable = "127.0.0.1"
            case "::", "[::]": reachable = "[::1]"
            default: reachable = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
            }
            return .tcp("http://\(reachable):\(listen.port)")
        }
        return listen.socketPath.map(unixSocket)
    }

    /// How the source is named in the view's title and in errors.
    package var label: String { unixSocketPath.map { "unix:\($0)" } ?? url }

    /// Reads one scrape's body with `transport` (libcurl in the CLI). Anything but a 200 is an error
    /// naming the status, since a gateway without the endpoint answers 404.
    package func fetch(with transport: any UpstreamTransport, timeout: Duration = .seconds(10)) async throws -> String {
        let request = UpstreamRequest(
            method: "GET", url: url, headers: [(name: "Accept", value: "text/plain; version=0.0.4")],
            timeouts: UpstreamTimeouts(connect: min(timeout, .seconds(5)), firstByte: timeout, idle: timeout, total: timeout),
            unixSocketPath: unixSocketPath)
        var status = 0
        var body: [UInt8] = []
        do {
            for try await event in transport.send(request) {
                switch event {
                case .head(let code, _): status = code
                case .body(let bytes):
                    body += bytes
                    guard body.count <= 64 << 20 else {
                        throw FlashgateError(.upstreamProtocol, "the metrics are over 64 MiB")
                    }
                }
            }
        } catch let error as FlashgateError {
            throw FlashgateError(error.kind, "cannot scrape \(label): \(error.message)")
        }
        guard status == 200 else {
            throw FlashgateError(.upstreamProtocol, "\(label) answered HTTP \(status)")
        }
        return String(decoding: body, as: UTF8.self)
    }
}

/// The loop of `flashgate top`: scrape, wait `interval`, scrape again, show the rates between the
/// two, and so on. Time comes from an injected clock, so tests run it without sleeping.
package struct TopLoop: Sendable {
    package var interval: Duration
    package var clock: any RetryClock
    package var title: String
    /// Returns one scrape's body (`MetricsSource.fetch` in the CLI).
    package var scrape: @Sendable () async throws -> String

    package init(
        interval: Duration, clock: any RetryClock = SystemRetryClock(), title: String,
        scrape: @escaping @Sendable () async throws -> String
    ) {
        self.interval = interval
        self.clock = clock
        self.title = title
        self.scrape = scrape
    }

    /// Two scrapes `interval` apart and the frame for them (`--once`). Throws the first failure.
    package func once() async throws -> String {
        let first = try await take()
        try await clock.sleep(for: interval)
        let second = try await take()
        return frame(from: first, to: second)
    }

    /// Calls `show` with a frame every `interval` until the task is cancelled or `show` throws
    /// (stdout closed). A failed scrape
    /// shows its error instead of a table and the view starts over from the next good scrape, so
    /// a gateway restarting mid-view costs a frame or two, not the view.
    package func run(show: (String) throws -> Void) async throws {
        var previous: (TopScrape, Tick)?
        while true {
            do {
                let current = try await takeForRun()
                if let previous {
                    try show(frame(from: previous, to: current))
                } else {
                    try show(title + "\nwaiting \(TopLoop.seconds(interval)) for a second scrape…\n")
                }
                previous = current
            } catch let error as ScrapeFailure {
                try show(title + "\nscrape failed: \(TopLoop.describe(error.underlying))\n")
                previous = nil
            }
            try await clock.sleep(for: interval)
        }
    }

    /// A scrape that failed, as opposed to a frame that could not be shown or a cancellation.
    private struct ScrapeFailure: Error {
        var underlying: any Error
    }

    private func take() async throws -> (TopScrape, Tick) {
        let text = try await scrape()
        return (try TopScrape(scrape: text), clock.now())
    }

    /// `take()` with failures other than cancellation wrapped, so `run` shows them and goes on.
    private func takeForRun() async throws -> (TopScrape, Tick) {
        do {
            return try await take()
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw ScrapeFailure(underlying: error)
        }
    }

    private func frame(from previous: (TopScrape, Tick), to current: (TopScrape, Tick)) -> String {
        let rates = TopRates(from: previous.0, to: current.0, elapsed: previous.1.duration(to: current.1))
        return TopView.render(rates, title: title)
    }

    /// An error as one line for people: a transport failure's message without its kind.
    package static func describe(_ error: any Error) -> String {
        (error as? FlashgateError)?.message ?? "\(error)"
    }

    /// `2s`, `500ms`, `1.5s`: how an interval is shown.
    package static func seconds(_ d: Duration) -> String {
        let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        if ms < 1000 { return "\(ms)ms" }
        var text = TopView.fixed(Double(ms) / 1000, 3)
        while text.hasSuffix("0") { text.removeLast() }
        return text + "s"
    }
}
