import FlashgateCore
import FlashgateServer
import FlashgateTesting
import FlashgateUpstream
import Synchronization
import Testing

@testable import flashgate

/// `flashgate top`: the metrics parser, rates from two scrapes, the table, and the scrape loop.
@Suite(.timeLimit(.minutes(1)))
struct TopViewTests {
    static let previousScrape = #"""
        # HELP flashgate_requests_total Requests answered, by endpoint, model, team, route, status and cache outcome.
        # TYPE flashgate_requests_total counter
        flashgate_requests_total{endpoint="openai_chat",model="gemini-2.5-flash",team="alpha",route="aistudio",status="200",cache="miss"} 10
        flashgate_requests_total{endpoint="openai_chat",model="gemini-2.5-flash",team="alpha",route="aistudio",status="200",cache="hit"} 4
        flashgate_requests_total{endpoint="native",model="gemini-2.5-pro",team="beta",route="",status="429",cache="none"} 2
        flashgate_requests_total{endpoint="native",model="gemini-2.5-pro",team="delta",route="aistudio",status="200",cache="bypass"} 100
        # TYPE flashgate_cost_usd_total counter
        flashgate_cost_usd_total{team="alpha",model="gemini-2.5-flash"} 1.5
        flashgate_cost_usd_total{team="delta",model="gemini-2.5-pro"} 5
        # TYPE flashgate_upstream_retries_total counter
        flashgate_upstream_retries_total{route="aistudio"} 5
        # TYPE flashgate_requests_in_flight gauge
        flashgate_requests_in_flight 1

        """#

    static let currentScrape = #"""
        # HELP flashgate_requests_total Requests answered, by endpoint, model, team, route, status and cache outcome.
        # TYPE flashgate_requests_total counter
        flashgate_requests_total{endpoint="openai_chat",model="gemini-2.5-flash",team="alpha",route="aistudio",status="200",cache="miss"} 16
        flashgate_requests_total{endpoint="openai_chat",model="gemini-2.5-flash",team="alpha",route="aistudio",status="200",cache="hit"} 8
        flashgate_requests_total{endpoint="openai_chat",model="gemini-2.5-flash",team="alpha",route="aistudio",status="200",cache="joined"} 2
        flashgate_requests_total{endpoint="openai_chat",model="gemini-2.5-flash",team="alpha",route="aistudio",status="200",cache="bypass"} 4
        flashgate_requests_total{endpoint="native",model="gemini-2.5-pro",team="beta",route="",status="429",cache="none"} 3
        flashgate_requests_total{endpoint="native",model="gemini-2.5-pro",team="delta",route="aistudio",status="200",cache="bypass"} 6
        flashgate_requests_total{endpoint="openai_chat",model="gemini-2.5-flash",team="gamma",route="vertex-eu",status="200",cache="miss"} 1
        # TYPE flashgate_cost_usd_total counter
        flashgate_cost_usd_total{team="alpha",model="gemini-2.5-flash"} 1.52
        flashgate_cost_usd_total{team="delta",model="gemini-2.5-pro"} 0.01
        flashgate_cost_usd_total{team="gamma",model="gemini-2.5-flash"} 0.004
        # TYPE flashgate_cache_saved_usd_total counter
        flashgate_cache_saved_usd_total{team="alpha",model="gemini-2.5-flash"} 0.2
        # TYPE flashgate_upstream_retries_total counter
        flashgate_upstream_retries_total{route="aistudio"} 7
        flashgate_upstream_retries_total{route="vertex-eu"} 2
        # TYPE flashgate_requests_in_flight gauge
        flashgate_requests_in_flight 3
        # TYPE flashgate_budget_remaining_usd gauge
        flashgate_budget_remaining_usd{team="alpha",budget="daily"} 12.5
        flashgate_budget_remaining_usd{team="alpha",budget="monthly"} +Inf
        flashgate_budget_remaining_usd{team="beta",budget="daily"} 0.25
        # TYPE flashgate_breaker_state gauge
        flashgate_breaker_state{route="aistudio"} 0
        flashgate_breaker_state{route="vertex-eu"} 2
        flashgate_breaker_state{route="backup"} 1

        """#

    static let expectedFrame = """
        flashgate top  http://127.0.0.1:8088/metrics  every 2s
        TEAM   REQ/S      $/H  CACHE HIT %  IN FLIGHT  BUDGET LEFT
        alpha   8.00  36.0000         33.3          -        12.50
        delta   3.00  18.0000            -          -            -
        gamma   0.50   7.2000          0.0          -            -
        beta    0.50   0.0000            -          -         0.25
        total  12.00  61.2000         30.8          3            -
        upstream retries 2.00/s  open: vertex-eu  half open: backup

        """

    // MARK: parsing

    @Test func parsesARealisticScrape() throws {
        let text = #"""
            # HELP flashgate_requests_total Requests answered.
            # TYPE flashgate_requests_total counter
            flashgate_requests_total{endpoint="openai_chat",model="gemini-2.5-flash",team="ops \"blue\" \\ team\nB",route="aistudio",status="200",cache="hit",} 42
            flashgate_requests_in_flight 3
            flashgate_budget_remaining_usd{team="alpha",budget="monthly"} +Inf
            flashgate_budget_remaining_usd { team = "beta" , budget="daily" } -Inf
              flashgate_cost_usd_total{team="alpha",model="m"} 1.25e-3 1712345678901
            flashgate_request_seconds_bucket{le="+Inf"} NaN
            flashgate_tokens_total{team="alpha",model="m",kind="prompt"}	1200

            """#
        let samples = try PrometheusText.parse(text)
        #expect(samples.count == 7)
        #expect(samples[0].name == "flashgate_requests_total")
        #expect(
            samples[0].labels == [
                "endpoint": "openai_chat", "model": "gemini-2.5-flash", "team": "ops \"blue\" \\ team\nB",
                "route": "aistudio", "status": "200", "cache": "hit",
            ])
        #expect(samples[0].value == 42)
        #expect(samples[1] == MetricSample(name: "flashgate_requests_in_flight", value: 3))
        #expect(samples[2].value == .infinity)
        #expect(samples[3].labels == ["team": "beta", "budget": "daily"])
        #expect(samples[3].value == -.infinity)
        #expect(samples[4] == MetricSample(name: "flashgate_cost_usd_total", labels: ["team": "alpha", "model": "m"], value: 0.00125))
        #expect(samples[5].labels == ["le": "+Inf"])
        #expect(samples[5].value.isNaN)
        #expect(samples[6].value == 1200)
    }

    @Test func onlySkipsOtherMetricsUnparsed() throws {
        let text = "weird_metric{this is not valid\nflashgate_requests_in_flight 2\r\n"
        #expect(try PrometheusText.parse(text, only: ["flashgate_requests_in_flight"]) == [
            MetricSample(name: "flashgate_requests_in_flight", value: 2)
        ])
        #expect(throws: MetricsParseError.self) { try PrometheusText.parse(text) }
    }

    @Test(arguments: [
        ("a 1\nb{x=\"1} 2\n", MetricsParseError(line: 2, reason: "the value of label x is not closed")),
        ("a{x=1} 2", MetricsParseError(line: 1, reason: "expected '\"' to open the value of label x")),
        ("a one", MetricsParseError(line: 1, reason: "expected a value, got 'one'")),
        ("a inf", MetricsParseError(line: 1, reason: "expected a value, got 'inf'")),
        ("a", MetricsParseError(line: 1, reason: "expected a value")),
        ("a 1 2 3", MetricsParseError(line: 1, reason: "unexpected text after the timestamp")),
        ("{x=\"1\"} 2", MetricsParseError(line: 1, reason: "expected a metric name")),
    ])
    func rejectsMalformedLinesNamingTheLine(text: String, expected: MetricsParseError) {
        #expect(throws: expected) { try PrometheusText.parse(text) }
    }

    @Test func sumsWhatTopShowsPerTeam() throws {
        let scrape = try TopScrape(scrape: Self.currentScrape)
        #expect(Set(scrape.teams.keys) == ["alpha", "beta", "delta", "gamma"])
        #expect(
            scrape.teams["alpha"]
                == TopScrape.Team(requests: 30, cacheHits: 8, cacheLookups: 26, costUSD: 1.52, budgetRemainingUSD: 12.5))
        #expect(scrape.teams["beta"] == TopScrape.Team(requests: 3, budgetRemainingUSD: 0.25))
        #expect(scrape.inFlight == 3)
        #expect(scrape.retries == 9)
        #expect(scrape.breakers == ["aistudio": 0, "vertex-eu": 2, "backup": 1])
    }

    /// `top`'s own scrapes, health checks, the admin API and the dashboard are not requests to
    /// show: an idle gateway watched by `top` had shown a team "none" at one request per interval.
    @Test func operationalEndpointsAreNotCounted() throws {
        let scrape = try TopScrape(
            scrape: """
                flashgate_requests_total{endpoint="metrics",model="none",team="none",route="none",status="200",cache="none"} 7
                flashgate_requests_total{endpoint="health",model="none",team="none",route="none",status="200",cache="none"} 3
                flashgate_requests_total{endpoint="admin",model="none",team="ops",route="none",status="200",cache="none"} 2
                flashgate_requests_total{endpoint="dashboard",model="none",team="none",route="none",status="200",cache="none"} 1
                flashgate_requests_total{endpoint="chat",model="m",team="ops",route="r",status="200",cache="miss"} 5

                """)
        #expect(scrape.teams["none"] == nil)
        #expect(scrape.teams["ops"]?.requests == 5)
    }

    // MARK: rates and rendering

    @Test func ratesFromTwoScrapes() throws {
        let rates = TopRates(
            from: try TopScrape(scrape: Self.previousScrape), to: try TopScrape(scrape: Self.currentScrape),
            elapsed: .seconds(2))
        #expect(rates.teams.map(\.team) == ["alpha", "delta", "gamma", "beta"])
        let alpha = rates.teams[0]
        #expect(alpha.requestsPerSecond == 8)  // 14 → 30
        #expect(abs(alpha.dollarsPerHour - 36) < 1e-9)  // $0.02 in 2 s
        #expect(abs(try #require(alpha.cacheHitPercent) - 100.0 / 3) < 1e-9)  // 4 hits in 12 lookups
        #expect(alpha.budgetRemainingUSD == 12.5)  // the daily budget binds before the unlimited monthly one
        let delta = rates.teams[1]
        #expect(delta.requestsPerSecond == 3)  // 100 → 6 is a reset: 6 new requests
        #expect(abs(delta.dollarsPerHour - 18) < 1e-9)
        #expect(delta.cacheHitPercent == nil)  // bypass only
        #expect(rates.teams[2].requestsPerSecond == 0.5)  // gamma is new: counted from zero
        #expect(rates.total.requestsPerSecond == 12)
        #expect(rates.total.inFlight == 3)
        #expect(rates.retriesPerSecond == 2)
        #expect(rates.openBreakers == ["vertex-eu"])
        #expect(rates.halfOpenBreakers == ["backup"])
    }

    @Test func rendersAFixedWidthTable() throws {
        let rates = TopRates(
            from: try TopScrape(scrape: Self.previousScrape), to: try TopScrape(scrape: Self.currentScrape),
            elapsed: .seconds(2))
        let frame = TopView.render(rates, title: "flashgate top  http://127.0.0.1:8088/metrics  every 2s")
        #expect(frame == Self.expectedFrame)
        #expect(!frame.contains("\u{1B}"))
    }

    @Test func rendersAnIdleGatewayAndOddTeamNames() {
        let rates = TopRates(
            from: TopScrape(),
            to: TopScrape(teams: ["": .init(requests: 1), String(repeating: "x", count: 30): .init()], inFlight: 0),
            elapsed: .zero)
        #expect(
            TopView.render(rates, title: "t") == """
                t
                TEAM                      REQ/S     $/H  CACHE HIT %  IN FLIGHT  BUDGET LEFT
                (none)                     0.00  0.0000            -          -            -
                xxxxxxxxxxxxxxxxxxxxxxx…   0.00  0.0000            -          -            -
                total                      0.00  0.0000            -          0            -
                upstream retries 0.00/s  breakers: all closed

                """)
    }

    @Test func formatsNumbers() {
        #expect(TopView.fixed(0.00005, 4) == "0.0001")
        #expect(TopView.fixed(-1.005, 1) == "-1.0")
        #expect(TopView.fixed(-0.00001, 2) == "0.00")
        #expect(TopView.fixed(1234.5, 0) == "1235")
        #expect(TopView.fixed(.nan, 2) == "-")
        #expect(TopLoop.seconds(.seconds(2)) == "2s")
        #expect(TopLoop.seconds(.milliseconds(500)) == "500ms")
        #expect(TopLoop.seconds(.milliseconds(1500)) == "1.5s")
    }

    @Test func findsTheGatewayTheWayServeListens() {
        #expect(MetricsSource.listening(ListenConfig()) == .tcp("http://127.0.0.1:8088"))
        #expect(MetricsSource.listening(ListenConfig()).map(\.url) == "http://127.0.0.1:8088/metrics")
        #expect(MetricsSource.listening(ListenConfig(host: "0.0.0.0", port: 9000))?.url == "http://127.0.0.1:9000/metrics")
        #expect(MetricsSource.listening(ListenConfig(host: "::", port: 9000))?.url == "http://[::1]:9000/metrics")
        #expect(MetricsSource.listening(ListenConfig(host: "fd00::1", port: 1))?.url == "http://[fd00::1]:1/metrics")
        #expect(
            MetricsSource.listening(ListenConfig(host: nil, socketPath: "/run/fg.sock"))
                == MetricsSource(url: "http://localhost/metrics", unixSocketPath: "/run/fg.sock"))
        #expect(MetricsSource.listening(ListenConfig(host: nil)) == nil)
        #expect(MetricsSource.tcp("http://gw:1/metrics/").url == "http://gw:1/metrics")
    }

    // MARK: the loop

    /// Scrape bodies or failures, handed out in order.
    final class Script: Sendable {
        private let items: Mutex<[Result<String, FlashgateError>]>
        init(_ items: [Result<String, FlashgateError>]) { self.items = Mutex(items) }
        func next() throws -> String {
            try items.withLock { $0.isEmpty ? .failure(FlashgateError(.internal, "script ran out")) : $0.removeFirst() }.get()
        }
    }

    final class Frames: Sendable {
        private let frames = Mutex<[String]>([])
        func add(_ frame: String) { frames.withLock { $0.append(frame) } }
        var all: [String] { frames.withLock { $0 } }
    }

    @Test func onceTakesTwoScrapesAnIntervalApartOnTheInjectedClock() async throws {
        let clock = ManualRetryClock()
        let script = Script([.success(Self.previousScrape), .success(Self.currentScrape)])
        let loop = TopLoop(
            interval: .seconds(2), clock: clock, title: "flashgate top  http://127.0.0.1:8088/metrics  every 2s",
            scrape: { try script.next() })
        async let frame = loop.once()
        await clock.waitForSleepers(1)
        #expect(clock.pendingDelays == [.seconds(2)])
        clock.advance(by: .seconds(2))
        #expect(try await frame == Self.expectedFrame)
    }

    @Test func runShowsFailuresAndStartsOverAfterThem() async throws {
        let clock = ManualRetryClock()
        let script = Script([
            .success(Self.previousScrape), .failure(FlashgateError(.upstreamUnreachable, "connection refused")),
            .success(Self.previousScrape), .success(Self.currentScrape),
        ])
        let frames = Frames()
        let loop = TopLoop(interval: .seconds(2), clock: clock, title: "T", scrape: { try script.next() })
        let task = Task { try await loop.run { frames.add($0) } }
        for _ in 0..<3 {
            await clock.waitForSleepers(1)
            clock.advance(by: .seconds(2))
        }
        await clock.waitForSleepers(1)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        let all = frames.all
        #expect(all.count == 4)
        #expect(all[0] == "T\nwaiting 2s for a second scrape…\n")
        #expect(all[1] == "T\nscrape failed: connection refused\n")
        #expect(all[2] == all[0])
        #expect(all[3].hasPrefix("T\nTEAM   REQ/S"))
        #expect(all[3].contains("total  12.00  61.2000"))
    }

    @Test func scrapesAGatewayOverHTTPWithCurl() async throws {
        CurlTransport.ignoreSIGPIPE()
        let fake = try await FakeGemini.start()
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        do {
            for body in [Self.previousScrape, Self.currentScrape] {
                fake.enqueue(
                    .init(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")], chunks: [Array(body.utf8)]))
            }
            let source = MetricsSource.tcp(fake.baseURL)
            let clock = ManualRetryClock()
            let loop = TopLoop(
                interval: .seconds(2), clock: clock, title: "flashgate top  http://127.0.0.1:8088/metrics  every 2s",
                scrape: { try await source.fetch(with: transport) })
            async let frame = loop.once()
            await clock.waitForSleepers(1)
            clock.advance(by: .seconds(2))
            #expect(try await frame == Self.expectedFrame)
            #expect(fake.received.map(\.path) == ["/metrics", "/metrics"])
            #expect(fake.received.first?.method == "GET")

            fake.enqueue(.json("{}", status: 404))
            let error = await #expect(throws: FlashgateError.self) { try await source.fetch(with: transport) }
            #expect(error.map(TopLoop.describe) == "\(fake.baseURL)/metrics answered HTTP 404")
        } catch {
            try await fake.shutdown()
            throw error
        }
        try await fake.shutdown()
    }

    @Test func scrapesAGatewayOverItsUnixSocket() async throws {
        CurlTransport.ignoreSIGPIPE()
        try await TempDirectory.with(prefix: "fgtop") { directory in
            let path = directory.file("gw.sock")
            let fake = try await FakeGemini.start(unixSocketPath: path)
            let transport = try CurlTransport()
            defer { transport.shutdown() }
            fake.enqueue(.init(status: 200, chunks: [Array(Self.currentScrape.utf8)]))
            let text = try await MetricsSource.unixSocket(path).fetch(with: transport)
            try await fake.shutdown()
            #expect(text == Self.currentScrape)
            #expect(fake.received.map(\.path) == ["/metrics"])
        }
    }
}
