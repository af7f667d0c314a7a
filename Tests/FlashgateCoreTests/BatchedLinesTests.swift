import FlashgateTesting
import Foundation
import Logging
import Testing

@testable import FlashgateCore

/// Log lines to stderr: one `write` each until buffering starts, then in batches that keep every
/// line whole and in order, and never hold a warning back.
@Suite struct BatchedLinesTests {
    /// A file the lines go to, opened for appending, as stderr redirected to a file is.
    final class Sink: @unchecked Sendable {
        let directory: TempDirectory
        let fd: Int32
        let lines: BatchedLines

        init() throws {
            directory = try TempDirectory(prefix: "fg-lines")
            fd = open(directory.file("log"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            lines = BatchedLines(fd: fd)
        }

        var text: String { (try? String(contentsOfFile: directory.file("log"), encoding: .utf8)) ?? "" }

        deinit {
            lines.stopBuffering()
            close(fd)
            directory.remove()
        }
    }

    /// A flusher that never flushes on its own within a test.
    static let never: Duration = .seconds(3600)

    @Test func unbufferedEachLineIsWrittenAtOnce() throws {
        let sink = try Sink()
        sink.lines.append("one\n")
        #expect(sink.text == "one\n")
        sink.lines.append("two\n")
        #expect(sink.text == "one\ntwo\n")
        #expect(sink.lines.pendingCount == 0)
    }

    @Test func bufferedLinesWaitForTheFlushAndKeepTheirOrder() throws {
        let sink = try Sink()
        sink.lines.startBuffering(interval: Self.never)
        for index in 0..<3 { sink.lines.append("line \(index)\n") }
        #expect(sink.text == "")
        #expect(sink.lines.pendingCount == 21)
        sink.lines.flush()
        #expect(sink.text == "line 0\nline 1\nline 2\n")
        #expect(sink.lines.pendingCount == 0)
    }

    @Test func aFullBatchIsWrittenByTheLineThatFilledIt() throws {
        let sink = try Sink()
        sink.lines.startBuffering(interval: Self.never)
        let line = String(repeating: "x", count: 1023) + "\n"
        for _ in 0..<(BatchedLines.flushBytes / 1024 - 1) { sink.lines.append(line) }
        #expect(sink.text.isEmpty)
        sink.lines.append(line)
        #expect(sink.text.utf8.count == BatchedLines.flushBytes)
        #expect(sink.lines.pendingCount == 0)
    }

    @Test func stoppingWritesWhatIsPendingAndGoesBackToOneWriteALine() throws {
        let sink = try Sink()
        sink.lines.startBuffering(interval: Self.never)
        sink.lines.append("held\n")
        #expect(sink.text.isEmpty)
        sink.lines.stopBuffering()
        #expect(sink.text == "held\n")
        sink.lines.append("direct\n")
        #expect(sink.text == "held\ndirect\n")
        // And it starts again.
        sink.lines.startBuffering(interval: Self.never)
        sink.lines.append("again\n")
        #expect(sink.text == "held\ndirect\n")
        sink.lines.stopBuffering()
        #expect(sink.text == "held\ndirect\nagain\n")
    }

    @Test func aWarningIsNeverHeldBackAndTakesTheBatchBeforeIt() throws {
        let sink = try Sink()
        sink.lines.startBuffering(interval: Self.never)
        let logger = Logger(label: "t") { LogFormatHandler(label: $0, level: .info, format: .logfmt, lines: sink.lines) }
        logger.info("first")
        var fastPath = LogFormatHandler(label: "t", level: .info, format: .logfmt, lines: sink.lines)
        fastPath.logLevel = .info
        #expect(fastPath.write(level: .info, message: "second", fields: { $0.add("k", "v") }))
        #expect(sink.text.isEmpty)
        logger.warning("third")
        let written = sink.text.split(separator: "\n")
        #expect(written.count == 3)
        #expect(written.count == 3 && written[0].contains("msg=first"))
        #expect(written.count == 3 && written[1].contains("msg=second k=v"))
        #expect(written.count == 3 && written[2].contains("msg=third"))
        // An error through the fast path flushes too.
        logger.info("fourth")
        #expect(fastPath.write(level: .error, message: "fifth", fields: { _ in }))
        #expect(sink.text.split(separator: "\n").count == 5)
    }

    /// The flusher writes a batch by itself once it has gathered for the interval: the test waits
    /// for the bytes on a pipe (an event, bounded at 30 s), not for time.
    @Test func theFlusherWritesAGatheringBatchByItself() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer {
            close(ends[0])
            close(ends[1])
        }
        let lines = BatchedLines(fd: ends[1])
        lines.startBuffering(interval: .milliseconds(1))
        defer { lines.stopBuffering() }
        lines.append("by the flusher\n")
        var ready = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
        #expect(poll(&ready, 1, 30_000) == 1)
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(ends[0], &buffer, buffer.count)
        #expect(String(decoding: buffer.prefix(max(0, count)), as: UTF8.self) == "by the flusher\n")
        // Idle again, and woken again by the next line.
        lines.append("and again\n")
        #expect(poll(&ready, 1, 30_000) == 1)
        let again = read(ends[0], &buffer, buffer.count)
        #expect(String(decoding: buffer.prefix(max(0, again)), as: UTF8.self) == "and again\n")
    }

    /// Four threads, 5,000 lines each, batched by the flusher, by full batches and by warnings at
    /// once: every line arrives whole, once, and each thread's lines in the order it wrote them.
    @Test func concurrentLinesArriveWholeOnceAndInOrder() throws {
        let sink = try Sink()
        sink.lines.startBuffering(interval: .milliseconds(1))
        let threads = 4
        let perThread = 5_000
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for index in 0..<perThread {
                sink.lines.append("t\(thread) n\(index) \(String(repeating: "p", count: index % 97))\n")
                if index % 1_000 == 999 { sink.lines.flush() }
            }
        }
        sink.lines.stopBuffering()
        var next = [Int](repeating: 0, count: threads)
        var malformed = 0
        for line in sink.text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0].hasPrefix("t"), parts[1].hasPrefix("n"),
                let thread = Int(parts[0].dropFirst()), let index = Int(parts[1].dropFirst()),
                (0..<threads).contains(thread), parts[2].count == index % 97
            else {
                malformed += 1
                continue
            }
            #expect(index == next[thread], "thread \(thread) wrote \(index) where \(next[thread]) was next")
            next[thread] = index + 1
        }
        #expect(malformed == 0)
        #expect(next == [Int](repeating: perThread, count: threads))
    }
}
