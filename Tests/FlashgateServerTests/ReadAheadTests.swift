import FlashgateCore
import FlashgateRouting
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// While a response is being made, the connection of a client that waits for it stays in
/// `epoll` for reads (no `epoll_ctl` to take it out and put it back each request); a client that
/// pipelines gets NIO's backpressure as before. Read from the kernel's own view of the event
/// loop's `epoll` set (`/proc/self/fdinfo`), with the answer held upstream by a gate.
@Suite struct ReadAheadTests {
    /// A gateway whose client has sent one chat request, and the gate that holds its answer
    /// (`text`) upstream until the test opens it.
    static func requestHeldUpstream(answering text: String) async throws -> (UpstreamPathTests.Harness, FakeGate) {
        let h = try await UpstreamPathTests.Harness.start()
        let gate = FakeGate()
        var held = FakeReply.json(#"{"candidates":[{"content":{"parts":[{"text":"\#(text)"}]},"finishReason":"STOP"}]}"#)
        held.gate = gate
        h.fake.enqueue(held)
        try await h.client.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: Self.chat))
        await h.fake.waitForRequests(1)
        return (h, gate)
    }

    @Test func aWaitingClientStaysRegisteredForReadsWhileItsAnswerIsMade() async throws {
        let (h, gate) = try await Self.requestHeldUpstream(answering: "hi")
        let events = try #require(Self.epollEvents(serverPort: h.gateway.port))
        #expect(events & Self.epollIn != 0)
        gate.open()
        #expect(await h.client.next()?.status == 200)
        try await h.stop()
    }

    @Test func aPipeliningClientIsHeldBackAndAnsweredInOrder() async throws {
        let (h, gate) = try await Self.requestHeldUpstream(answering: "first")
        // More bytes while the answer is made: the socket leaves epoll's read set once they are read.
        try await h.client.send(RawHTTPClient.encode("GET", "/healthz"))
        var events = Self.epollEvents(serverPort: h.gateway.port)
        let deadline = ContinuousClock.now + .seconds(10)
        while let current = events, current & Self.epollIn != 0, ContinuousClock.now < deadline {
            await Task.yield()
            events = Self.epollEvents(serverPort: h.gateway.port)
        }
        #expect(events.map { $0 & Self.epollIn } == 0)
        gate.open()
        let first = await h.client.next()
        let second = await h.client.next()
        #expect(first?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "first")
        #expect(second?.json?["status"]?.stringValue == "ok")
        try await h.stop()
    }

    static let chat = #"{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hello"}]}"#
    static let epollIn: UInt32 = 0x1

    /// The epoll event mask this process registered for its end of the one established TCP
    /// connection to `serverPort` (nil when there is none, or it is in no epoll set).
    static func epollEvents(serverPort: Int) -> UInt32? {
        guard let inode = establishedInode(localPort: serverPort), let fd = descriptor(ofSocketInode: inode) else {
            return nil
        }
        let fdinfo = "/proc/self/fdinfo"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: fdinfo)) ?? [] {
            guard let text = procText("\(fdinfo)/\(entry)") else { continue }
            for line in text.split(separator: "\n") where line.hasPrefix("tfd:") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                // tfd: N events: HEX data: ...
                guard fields.count >= 4, Int(fields[1]) == fd, fields[2] == "events:" else { continue }
                return UInt32(fields[3], radix: 16)
            }
        }
        return nil
    }

    private static func establishedInode(localPort: Int) -> String? {
        guard let table = procText("/proc/net/tcp") else { return nil }
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 9, fields[3] == "01" else { continue }  // ESTABLISHED
            let local = fields[1].split(separator: ":")
            guard local.count == 2, Int(local[1], radix: 16) == localPort else { continue }
            return String(fields[9])
        }
        return nil
    }

    /// A /proc file read to its end: the kernel hands such files out a page per `read`, and their
    /// size says 0, so one sized read would see only the start of a long table.
    private static func procText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 { return nil }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func descriptor(ofSocketInode inode: String) -> Int? {
        let fds = "/proc/self/fd"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? [] {
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fds)/\(entry)")) == "socket:[\(inode)]" {
                return Int(entry)
            }
        }
        return nil
    }
}
