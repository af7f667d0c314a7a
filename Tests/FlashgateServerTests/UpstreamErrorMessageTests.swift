import FlashgateCore
import FlashgateTesting
import FlashgateUpstream
import Logging
import Testing

@testable import FlashgateServer

/// What a client learns when the upstream cannot be reached: that it cannot, in its dialect, and
/// never where Flashgate's upstream lives (host and port are for the operator's log).
@Suite(.timeLimit(.minutes(1)))
struct UpstreamErrorMessageTests {
    @Test func anUnreachableUpstreamIsNamedInTheLogNotInTheAnswer() async throws {
        let closed = try ClosedPort()
        let base = closed.baseURL
        let port = closed.port
        var config = FlashgateConfig(
            routes: [RouteConfig(name: "gone", kind: .gemini, baseURL: base, apiKey: Secret("k"), passthrough: true)])
        config.retry = RetryPolicy(maxAttempts: 1, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60))
        let lines = AccessLogTests.Lines()
        let curl = try CurlTransport(
            logger: Logger(label: "flashgate") {
                LogFormatHandler(label: $0, level: .info, format: .logfmt, write: { lines.add($0) })
            })
        let gateway = try await TestGateway.start(config: config, http: curl)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let openAI = try #require(
            try await client.request(
                "POST", "/v1/chat/completions", body: #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#))
        let native = try #require(
            try await client.request(
                "POST", "/v1beta/models/m:generateContent", body: #"{"contents":[{"parts":[{"text":"hi"}]}]}"#))
        for response in [openAI, native] {
            #expect(response.status == 502)
            let message = try #require(response.json?["error"]?["message"]?.stringValue)
            #expect(!message.isEmpty)
            #expect(!message.contains("127.0.0.1") && !message.contains(String(port)), "\(message)")
        }
        // The operator's log says where: one line per failed call, with libcurl's own words.
        #expect(lines.all.count == 2)
        for line in lines.all {
            #expect(
                line.contains("msg=\"upstream call failed\"") && line.contains("upstream=127.0.0.1:\(port)"), "\(line)")
            #expect(line.contains("curl="), "\(line)")
        }
        await client.close()
        await gateway.stop()
        curl.shutdown()
        withExtendedLifetime(closed) {}
    }
}
