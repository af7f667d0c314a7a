import FlashgateCore
import FlashgateTesting
import Testing

@testable import FlashgateUpstream

@Suite(.timeLimit(.minutes(1)))
struct CurlTransportFailureTests {
    private static let quick = UpstreamTimeouts(
        connect: .seconds(5), firstByte: .milliseconds(200), idle: .milliseconds(200), total: .seconds(30))

    @Test func firstByteTimeoutThrowsUpstreamTimeout() async throws {
        try await withTransport { transport, fake in
            fake.enqueue(FakeReply(chunks: [Array("late".utf8)], gate: FakeGate()))  // never opened
            let started = ContinuousClock.now
            let request = UpstreamRequest(method: "GET", url: fake.baseURL + "/slow", timeouts: Self.quick)
            let error = await upstreamError(of: transport.send(request))
            #expect(error?.kind == .upstreamTimeout)
            #expect(error?.message.contains("127.0.0.1") == false, "\(error?.message ?? "")")
            #expect(ContinuousClock.now - started < .seconds(10))
            await fake.waitForClosedConnections(1)
            #expect(transport.stats.liveTransfers == 0)
        }
    }

    @Test func idleTimeoutMidStreamThrowsUpstreamTimeout() async throws {
        try await withTransport { transport, fake in
            fake.enqueue(FakeReply(chunks: [Array("one".utf8), Array("two".utf8)], chunkGates: [1: FakeGate()]))
            let request = UpstreamRequest(method: "GET", url: fake.baseURL + "/stall", timeouts: Self.quick)
            var received: [UInt8] = []
            do {
                for try await event in transport.send(request) {
                    if case .body(let bytes) = event { received += bytes }
                }
                Issue.record("a stalled stream must not end silently")
            } catch let error as FlashgateError {
                #expect(error.kind == .upstreamTimeout)
            }
            #expect(received == Array("one".utf8))
        }
    }

    @Test func totalTimeoutIsEnforcedByCurl() async throws {
        try await withTransport { transport, fake in
            fake.enqueue(FakeReply(chunks: [Array("late".utf8)], gate: FakeGate()))
            let timeouts = UpstreamTimeouts(
                connect: .seconds(5), firstByte: .zero, idle: .zero, total: .milliseconds(200))
            let request = UpstreamRequest(method: "GET", url: fake.baseURL + "/slow", timeouts: timeouts)
            #expect(await upstreamError(of: transport.send(request))?.kind == .upstreamTimeout)
        }
    }

    @Test func refusedConnectionThrowsUpstreamUnreachable() async throws {
        let closed = try ClosedPort()
        let url = closed.baseURL + "/v1beta/models"
        let transport = try CurlTransport()
        let error = await upstreamError(of: transport.send(UpstreamRequest(method: "GET", url: url)))
        transport.shutdown()
        #expect(error?.kind == .upstreamUnreachable)
        #expect(error?.message.contains("127.0.0.1") == false, "\(error?.message ?? "")")
        withExtendedLifetime(closed) {}
    }

    /// libcurl resends a request by itself, on a new connection, when a reused one closes before
    /// any byte of an answer. For a POST (a generation, possibly billed) that resend is stopped
    /// once the connection lived past the resend window (here zero), and the call fails as
    /// unreachable, for the retry owner to count and pay for; a GET may still be resent.
    @Test func aPostIsNotResentByLibcurlWhenItsReusedConnectionDies() async throws {
        var configuration = CurlTransport.Configuration()
        configuration.resendWindow = .zero
        try await withTransport(configuration) { transport, fake in
            let post = { (path: String) in
                UpstreamRequest(
                    method: "POST", url: fake.baseURL + path, headers: [("Content-Type", "application/json")],
                    body: Array("{}".utf8))
            }
            fake.enqueue(.json(#"{"first":true}"#))
            fake.enqueue(.closeWithoutAnswer)
            fake.enqueue(.json(#"{"resent":true}"#))
            #expect(try await collect(transport.send(post("/one"))).status == 200)
            let error = await upstreamError(of: transport.send(post("/two")))
            #expect(error?.kind == .upstreamUnreachable)
            #expect(error?.neverSent == false)
            #expect(fake.requestCount == 2, "libcurl sent the POST again by itself")
            #expect(transport.stats.resendsRefused == 1)
            // (libcurl opens the new connection before it asks whether to send on it, so the
            // server may see a second connection open; never a second request.)

            // A GET on a reused connection that dies is resent: reading twice bills nothing.
            fake.clearReplies()
            fake.enqueue(.json(#"{"first":true}"#))
            fake.enqueue(.closeWithoutAnswer)
            fake.enqueue(.json(#"{"resent":true}"#))
            let get = { (path: String) in UpstreamRequest(method: "GET", url: fake.baseURL + path) }
            #expect(try await collect(transport.send(get("/three"))).status == 200)
            let resent = try await collect(transport.send(get("/four")))
            #expect(resent.text == #"{"resent":true}"#)
            #expect(fake.requestCount == 5)
            #expect(transport.stats.resendsRefused == 1)
        }
    }

    /// A reused connection that dies at once (within the resend window: a kept-alive connection
    /// the server had closed) is the one case libcurl's own resend of a POST is let through:
    /// nothing was generated, and the call goes on unseen by the retry owner, as before.
    @Test func aPostOnAConnectionThatDiesAtOnceIsResent() async throws {
        var configuration = CurlTransport.Configuration()
        configuration.resendWindow = .seconds(3600)
        try await withTransport(configuration) { transport, fake in
            let post = { (path: String) in
                UpstreamRequest(method: "POST", url: fake.baseURL + path, body: Array("{}".utf8))
            }
            fake.enqueue(.json(#"{"first":true}"#))
            fake.enqueue(.closeWithoutAnswer)
            fake.enqueue(.json(#"{"resent":true}"#))
            let first = try await collect(transport.send(post("/one")))
            #expect(first.status == 200)
            let resent = try await collect(transport.send(post("/two")))
            #expect(resent.text == #"{"resent":true}"#)
            #expect(fake.requestCount == 3)
            #expect(transport.stats.resends == 1)
            #expect(transport.stats.resendsRefused == 0)
        }
    }

    @Test func droppedStreamThrowsInsteadOfEndingSilently() async throws {
        try await withTransport { transport, fake in
            let chunks = ["data: one\r\n\r\n", "data: two\r\n\r\n", "data: three\r\n\r\n"].map { Array($0.utf8) }
            fake.enqueue(
                FakeReply(
                    headers: [(name: "Content-Type", value: "text/event-stream")], chunks: chunks, dropAfterChunks: 1))
            var received: [UInt8] = []
            var status = 0
            do {
                for try await event in transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/drop")) {
                    switch event {
                    case .head(let code, _): status = code
                    case .body(let bytes): received += bytes
                    }
                }
                Issue.record("a dropped stream must throw")
            } catch let error as FlashgateError {
                #expect(error.kind == .upstreamProtocol || error.kind == .upstreamUnreachable)
            }
            #expect(status == 200)
            #expect(received == chunks[0])
        }
    }

    @Test func cancellingTheConsumerAbortsTheTransfer() async throws {
        try await withTransport { transport, fake in
            fake.enqueue(FakeReply(chunks: [Array("never".utf8)], gate: FakeGate()))  // held forever
            let url = fake.baseURL + "/held"
            let consumer = Task {
                for try await _ in transport.send(UpstreamRequest(method: "GET", url: url)) {}
            }
            await fake.waitForRequests(1)
            #expect(transport.stats.liveTransfers == 1)
            consumer.cancel()
            await fake.waitForClosedConnections(1)  // standard timeouts: only the cancel can close it
            #expect(transport.stats.liveTransfers == 0)
            _ = await consumer.result
        }
    }

    @Test func breakingOutOfTheIterationAbortsTheTransfer() async throws {
        try await withTransport { transport, fake in
            fake.enqueue(FakeReply(chunks: [Array("a".utf8), Array("b".utf8)], chunkGates: [1: FakeGate()]))
            for try await event in transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/held")) {
                if case .body = event { break }
            }
            await fake.waitForClosedConnections(1)
            #expect(transport.stats.liveTransfers == 0)
        }
    }

    @Test func shutdownFailsOpenResponses() async throws {
        let fake = try await FakeGemini.start()
        let transport = try CurlTransport()
        fake.enqueue(FakeReply(chunks: [Array("never".utf8)], gate: FakeGate()))
        let response = transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/held"))
        await fake.waitForRequests(1)
        transport.shutdown()
        #expect(await upstreamError(of: response)?.kind == .unavailable)
        let late = await upstreamError(of: transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/x")))
        #expect(late?.kind == .unavailable)
        try await fake.shutdown()
    }
}
