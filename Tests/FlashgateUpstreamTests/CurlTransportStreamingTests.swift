import FlashgateCore
import FlashgateTesting
import Testing

@testable import FlashgateUpstream

@Suite(.timeLimit(.minutes(1)))
struct CurlTransportStreamingTests {
    @Test func defaultSSEStreamArrivesWhole() async throws {
        try await withTransport { transport, fake in
            let url = fake.baseURL + "/v1beta/models/gemini-fake-1:streamGenerateContent?alt=sse"
            let response = try await collect(
                transport.send(UpstreamRequest(method: "POST", url: url, body: Array("{}".utf8))))
            #expect(response.status == 200)
            #expect(response.header("content-type") == "text/event-stream")
            #expect(response.header("transfer-encoding") == "chunked")
            let expected = FakeReply.defaultStreamEvents().map { "data: \($0)\r\n\r\n" }.joined()
            #expect(response.text == expected)
        }
    }

    @Test func chunksArriveAsSeparateBodyEventsInOrder() async throws {
        try await withTransport { transport, fake in
            let chunks = ["first;", "second;", "third."].map { Array($0.utf8) }
            let afterFirst = FakeGate()
            let afterSecond = FakeGate()
            fake.enqueue(FakeReply(chunks: chunks, chunkGates: [1: afterFirst, 2: afterSecond]))
            var iterator = transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/s")).makeAsyncIterator()
            guard case .head(let status, _) = try await iterator.next() else {
                Issue.record("expected the head first")
                return
            }
            #expect(status == 200)
            var events = 0
            for (index, chunk) in chunks.enumerated() {
                var got: [UInt8] = []
                while got.count < chunk.count {
                    guard case .body(let bytes) = try await iterator.next() else {
                        Issue.record("stream ended before chunk \(index)")
                        return
                    }
                    got += bytes
                    events += 1
                }
                #expect(got == chunk)
                if index == 0 { afterFirst.open() }
                if index == 1 { afterSecond.open() }
            }
            #expect(events >= 3)
            #expect(try await iterator.next() == nil)
        }
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        try await withTransport { transport, fake in
            for _ in 0..<4 {
                let response = try await collect(
                    transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/v1beta/models")))
                #expect(response.status == 200)
            }
            #expect(fake.requestCount == 4)
            #expect(fake.connectionCount == 1)
        }
    }

    @Test func sixteenConcurrentRequestsAllComplete() async throws {
        try await withTransport { transport, fake in
            let url = fake.baseURL + "/v1beta/models/gemini-fake-1:generateContent"
            let statuses = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<16 {
                    group.addTask {
                        let request = UpstreamRequest(method: "POST", url: url, body: Array("{\"n\":\(index)}".utf8))
                        let response = try await collect(transport.send(request))
                        return (response.status, response.text)
                    }
                }
                var all: [(Int, String)] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(statuses.count == 16)
            #expect(statuses.allSatisfy { $0.0 == 200 && $0.1.contains("Hello from FakeGemini") })
            #expect(Set(fake.received.map(\.bodyText)) == Set((0..<16).map { "{\"n\":\($0)}" }))
            #expect(transport.stats.liveTransfers == 0)
        }
    }

    @Test func slowConsumerIsHeldAtHighWaterByPausing() async throws {
        let paused = FakeGate()
        var configuration = CurlTransport.Configuration(highWaterBytes: 256 * 1024, lowWaterBytes: 64 * 1024)
        configuration.onPause = { paused.open() }
        try await withTransport(configuration) { transport, fake in
            let chunk = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 % 251) }
            fake.enqueue(FakeReply(chunks: Array(repeating: chunk, count: 64)))  // 4 MiB
            var iterator = transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/big"))
                .makeAsyncIterator()
            _ = try await iterator.next()  // head
            guard case .body(let first) = try await iterator.next() else {
                Issue.record("expected a body chunk")
                return
            }
            await paused.wait()  // the consumer stalls until curl has been told to pause
            #expect(transport.stats.pauses >= 1)
            // One curl write (at most 16 KiB, CURL_MAX_WRITE_SIZE) may land past high water.
            #expect(transport.stats.peakBufferedBytes <= 256 * 1024 + 16 * 1024)
            var body = first
            while let event = try await iterator.next() {
                if case .body(let bytes) = event { body += bytes }
            }
            #expect(body.count == 64 * 65_536)
            #expect(body == Array([[UInt8]](repeating: chunk, count: 64).joined()))
            #expect(transport.stats.resumes >= 1)
            #expect(transport.stats.peakBufferedBytes <= 256 * 1024 + 16 * 1024)
        }
    }
}
