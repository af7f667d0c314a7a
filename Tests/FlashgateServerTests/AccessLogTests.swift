import FlashgateCore
import FlashgateRouting
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Logging
import Synchronization
import Testing

@testable import FlashgateServer

/// One line per request, with the facts and none of the secrets.
@Suite struct AccessLogTests {
    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        func add(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }

        /// Waits (yielding) until `count` lines were written: the line is written when the response ends.
        func wait(for count: Int) async -> [String] {
            while all.count < count { await Task.yield() }
            return all
        }
    }

    static let secretKey = "sk-flashgate-0123456789abcdefSECRET"
    static let secretPrompt = "my password is hunter2-AIzaSyDUMMYDUMMYDUMMYDUMMYDUMMYDUMMY"

    @Test func aLineHasTheFactsAndNoPromptAnswerOrKey() async throws {
        let lines = Lines()
        var config = TestGateway.mockConfig()
        config.teams = [TeamConfig(id: "search")]
        config.keys = [KeyConfig(name: "ci-key", team: "search", hashHex: VirtualKey.hashHex(Self.secretKey))]
        let gateway = try await TestGateway.start(config: config, accessLog: { lines.add($0) })
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let body = #"{"model":"gemini-3.5-flash","messages":[{"role":"user","content":"\#(Self.secretPrompt)"}]}"#
        let response = try await client.request(
            "POST", "/v1/chat/completions", body: body,
            headers: [("authorization", "Bearer \(Self.secretKey)"), ("x-request-id", "req-access-1")])
        #expect(response?.status == 200)
        let answer = try #require(response?.json?["choices"]?[0]?["message"]?["content"]?.stringValue)
        let unauthorized = try await client.request("POST", "/v1/chat/completions", body: body, headers: [("authorization", "Bearer wrong")])
        #expect(unauthorized?.status == 401)
        let written = await lines.wait(for: 2)
        let line = try #require(written.first { $0.contains("request_id=req-access-1") })
        for fact in [
            "msg=request", "endpoint=chat", "status=200", "team=search", "key=ci-key", "model=gemini-3.5-flash", "route=mock",
            "cache=", "cost_usd=", "prompt_tokens=", "output_tokens=", "duration_ms=", "ttfb_ms=", "method=POST",
        ] {
            #expect(line.contains(fact), "missing \(fact) in \(line)")
        }
        for line in written {
            #expect(!line.contains("hunter2"))
            #expect(!line.contains("AIzaSy"))
            #expect(!line.contains(Self.secretKey))
            #expect(!line.contains("SECRET"))
            #expect(!line.contains("wrong"))
            #expect(!line.contains(String(answer.prefix(12))))
        }
        #expect(written.contains { $0.contains("status=401") && $0.contains("endpoint=chat") })
        #expect(!line.contains("upstream_wire_ms"), "the mock model has no wire to time")
        await client.close()
        await gateway.stop()
    }

    /// `upstream_wire_ms` is libcurl's own time from the transfer joining the curl loop to its
    /// head: part of `upstream_ms`, which also counts building the request and the hand-offs to
    /// the curl thread and back, which are Flashgate's.
    @Test func theWireTimeIsLibcurlsShareOfTheUpstreamTime() async throws {
        let lines = Lines()
        let h = try await AccountingTests.Harness.start(accessLog: { lines.add($0) })
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let response = try await client.request(
            "POST", "/v1/chat/completions", body: AccountingTests.chat("x"), headers: AccountingTests.auth)
        #expect(response?.status == 200)
        let line = try #require(await lines.wait(for: 1).first)
        func ms(_ name: String) -> Double? {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard let field = fields.first(where: { $0.hasPrefix("\(name)=") }) else { return nil }
            return Double(field.dropFirst(name.count + 1))
        }
        let wire = try #require(ms("upstream_wire_ms"), "in \(line)")
        let upstream = try #require(ms("upstream_ms"))
        let ttfb = try #require(ms("ttfb_ms"))
        #expect(wire > 0 && wire <= upstream && upstream <= ttfb, "\(wire) \(upstream) \(ttfb)")
        await client.close()
        try await h.stop()
    }

    /// A client that leaves while its whole answer is still being made (a follower waits, so
    /// the call goes on) never gets that answer: its line says `aborted=true`, though Flashgate
    /// had a 200 for it. The follower's line does not.
    @Test func aClientThatLeftBeforeItsWholeAnswerIsLoggedAborted() async throws {
        let lines = Lines()
        let h = try await ResponseCacheTests.Harness.start(accessLog: { lines.add($0) })
        let gate = FakeGate()
        var reply = FakeReply.json(ResponseCacheTests.answerJSON)
        reply.gate = gate
        h.fake.enqueue(reply)

        let leader = try await h.client()
        let follower = try await h.client()
        try await leader.send(
            RawHTTPClient.encode(
                "POST", "/v1/chat/completions", body: ResponseCacheTests.chat, headers: [("x-request-id", "leader-1")]))
        await h.fake.waitForRequests(1)
        try await follower.send(
            RawHTTPClient.encode(
                "POST", "/v1/chat/completions", body: ResponseCacheTests.chat, headers: [("x-request-id", "follower-1")]))
        while h.gateway.running.gateway.flights.subscriberCountTotal < 2 { await Task.yield() }
        await leader.close()
        // Flashgate has seen the leader's client go before the answer comes.
        while h.gateway.running.server.connections.openConnections > 1 { await Task.yield() }
        gate.open()
        let answer = await follower.next()
        #expect(answer?.status == 200)
        let written = await lines.wait(for: 2)
        let left = try #require(written.first { $0.contains("request_id=leader-1") })
        let stayed = try #require(written.first { $0.contains("request_id=follower-1") })
        #expect(left.contains("aborted=true"), "\(left)")
        #expect(!stayed.contains("aborted"), "\(stayed)")
        #expect(stayed.contains("status=200"))
        await follower.close()
        try await h.stop()
    }

    /// A stream's leader whose client left while a follower kept the call going still pays for
    /// it, and its line and the metrics say so: the line was written when its client left,
    /// before the call settled, with `cost_usd=0.000000` (the ledger had the charge).
    @Test func aStreamLeaderThatLeftIsLoggedWithTheCostItPaid() async throws {
        let lines = Lines()
        let h = try await ResponseCacheTests.Harness.start(accessLog: { lines.add($0) })
        let gate = FakeGate()
        var reply = FakeReply.sse(FakeReply.defaultStreamEvents(model: "gemini-3.5-flash"))
        reply.gate = gate
        h.fake.enqueue(reply)

        let leader = try await h.client()
        let follower = try await h.client()
        try await leader.send(
            RawHTTPClient.encode(
                "POST", "/v1/chat/completions", body: ResponseCacheTests.chatStream,
                headers: [("x-request-id", "leader-s")]))
        await h.fake.waitForRequests(1)
        try await follower.send(
            RawHTTPClient.encode(
                "POST", "/v1/chat/completions", body: ResponseCacheTests.chatStream,
                headers: [("x-request-id", "follower-s")]))
        while h.gateway.running.gateway.flights.subscriberCountTotal < 2 { await Task.yield() }
        await leader.close()
        while h.gateway.running.server.connections.openConnections > 1 { await Task.yield() }
        gate.open()
        #expect(await follower.next()?.status == 200)
        let written = await lines.wait(for: 2)
        let left = try #require(written.first { $0.contains("request_id=leader-s") })
        #expect(left.contains("aborted=true"), "\(left)")
        #expect(!left.contains("cost_usd=0.000000"), "\(left)")
        #expect(left.contains("prompt_tokens=5"), "\(left)")
        await follower.close()
        try await h.stop()
    }

    @Test func jsonLinesAreOneObjectEach() async throws {
        let lines = Lines()
        let handler = LogFormatHandler(label: "flashgate.access", level: .info, format: .json, write: { lines.add($0) })
        var summary = RequestRecord.Summary(requestID: "r1", method: "POST", endpoint: "generate")
        summary.status = 429
        summary.team = "search"
        summary.refused = .budget
        summary.softBudgetsExceeded = ["key:ci:month"]
        summary.attempts = [AttemptRecord(route: "r0", outcome: .status(503), duration: .milliseconds(12))]
        AccessLog(logger: .init(label: "flashgate.access") { _ in handler }).finished(summary)
        let parsed = try JSONParser.parse(Array(try #require(lines.all.first).utf8))
        #expect(parsed["msg"]?.stringValue == "request")
        #expect(parsed["status"]?.stringValue == "429")
        #expect(parsed["rejected_by"]?.stringValue == "budget")
        #expect(parsed["refused"]?.stringValue == "budget")
        #expect(parsed["budget_exceeded"]?.stringValue == "key:ci:month")
        #expect(parsed["attempts"]?.stringValue == "r0:503:12ms")
    }

    /// Every field set: the fast path must list them in the handler's key order and write the line
    /// the general path writes.
    static func fullSummary() -> RequestRecord.Summary {
        var s = RequestRecord.Summary(requestID: "r1", method: "POST", endpoint: "chat")
        s.status = 200
        s.team = "search"
        s.key = "ci"
        s.model = "gemini-3.5-flash"
        s.route = "studio"
        s.cache = "miss"
        s.promptTokens = 10
        s.outputTokens = 5
        s.thoughtsTokens = 2
        s.cachedTokens = 1
        s.cost = MicroUSD(1234)
        s.saved = MicroUSD(7)
        s.attempts = [AttemptRecord(route: "r0", outcome: .status(503), duration: .milliseconds(12))]
        s.refused = .budget
        s.softBudgetsExceeded = ["key:ci:month", "team:search:day"]
        s.duration = .microseconds(1500)
        s.timeToFirstByte = .microseconds(900)
        s.upstreamTime = .microseconds(700)
        s.aborted = true
        return s
    }

    @Test func theFastPathWritesTheLineSwiftLogWould() throws {
        let summary = Self.fullSummary()
        let fields = AccessLog.fields(summary)
        #expect(fields.count == 23)
        #expect(zip(fields, fields.dropFirst()).allSatisfy { $0.0 < $1.0 }, "\(fields.map(\.0))")
        let fast = Lines()
        let general = Lines()
        let fastHandler = LogFormatHandler(label: "a", level: .info, format: .logfmt, write: { fast.add($0) })
        let generalHandler = LogFormatHandler(label: "a", level: .info, format: .logfmt, write: { general.add($0) })
        // The access log's own path: fields written straight into the line.
        #expect(fastHandler.write(level: .info, message: "request", fields: { AccessLog.write(summary, to: &$0) }))
        Logger(label: "a") { _ in generalHandler }.info("request", metadata: AccessLog.metadata(summary))
        // The lines differ only in their timestamps.
        let strip = { (line: String) in line.split(separator: " ", maxSplits: 1).last.map(String.init) }
        let expected = strip(try #require(general.all.first))
        #expect(fast.all.count == 1)
        for line in fast.all { #expect(strip(line) == expected) }
        #expect(fast.all.first?.contains("rejected_by=budget") == true)
        #expect(fast.all.first?.contains(" cost_usd=0.001234 ") == true)
        #expect(fast.all.first?.contains(" duration_ms=1.500 ") == true)
    }

    /// Bytes that must never reach a log line raw: they forge, repaint or cut lines.
    static func hasRawControl(_ line: String) -> Bool {
        line.dropLast().unicodeScalars.contains { scalar in
            scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value)
        }
    }

    @Test func requestDerivedStringsAreEscapedAndCappedInTheAccessLog() async throws {
        let lines = Lines()
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig(), accessLog: { lines.add($0) })
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let forged = "m\r\nlevel=error msg=forged\u{1b}[31m\u{0}end"
        let huge = String(repeating: "a", count: 100_000)
        for model in [forged, huge] {
            let body = JSONWriter.string([
                "model": .string(model), "messages": [["role": "user", "content": "hi"] as JSONValue],
            ])
            _ = try await client.request("POST", "/v1/chat/completions", body: body)
        }
        let written = await lines.wait(for: 2)
        #expect(written.count == 2)
        for line in written {
            #expect(line.hasSuffix("\n") && line.dropLast().firstIndex(of: "\n") == nil)
            #expect(!Self.hasRawControl(line), "raw control character in \(line.debugDescription)")
            #expect(line.utf8.count < 2048, "a \(line.utf8.count)-byte line")
        }
        #expect(written[0].contains(#"model="m\r\nlevel=error msg=forged\x1b[31m\x00end""#), "\(written[0])")
        #expect(written[1].contains("…(+"))
        await client.close()
        await gateway.stop()
    }

    @Test func everyLogValueIsEscapedAndCapped() throws {
        for format in [LogConfig.Format.logfmt, .json] {
            let lines = Lines()
            let handler = LogFormatHandler(label: "flashgate", level: .info, format: format, write: { lines.add($0) })
            let logger = Logger(label: "flashgate") { _ in handler }
            logger.warning(
                "refused \u{1b}[2J\r\nfake line\u{0}",
                metadata: ["reason": "\(String(repeating: "z", count: 100_000))\r\n", "path": "/v1/\u{85}x\u{2028}y"])
            let line = try #require(lines.all.first)
            #expect(lines.all.count == 1)
            #expect(!Self.hasRawControl(line), "raw control character in \(format): \(line.debugDescription)")
            #expect(!line.contains("\u{2028}"))
            #expect(line.dropLast().firstIndex(of: "\n") == nil)
            #expect(line.utf8.count < 2 * LogText.valueLimit + 512, "a \(line.utf8.count)-byte \(format) line")
            if format == .json {
                let parsed = try JSONParser.parse(Array(line.utf8))
                #expect(parsed["msg"]?.stringValue == #"refused \x1b[2J\r\nfake line\x00"#)
                #expect(parsed["reason"]?.stringValue?.hasSuffix("bytes)") == true)
            }
        }
    }
}
