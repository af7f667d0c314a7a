import Foundation

/// Log lines bound for one file descriptor (stderr), written one `write(2)` per line until
/// `startBuffering` and then in batches: a line joins a pending batch, and the batch goes out when
/// a flusher thread has let it gather for `interval`, when it reaches `flushBytes`, when a line
/// that must not wait (a warning or worse) arrives, or when buffering stops. `serve` buffers; the
/// other commands write each line at once. nginx's `access_log … buffer= flush=` is the same idea:
/// at c=8 the access log's `write` was one system call of ten a request.
///
/// Invariants:
/// - Lines reach the descriptor whole and in the order they were appended: a batch is taken and
///   written under `writeLock`, so a later batch can never overtake an earlier one.
/// - Memory is bounded: a producer that fills the batch to `flushBytes` writes it itself (and
///   waits for the descriptor, as an unbatched line would).
/// - The flusher is woken only when a line lands in an empty batch while it sleeps, and only
///   after the producer released the lock.
/// - What a kill -9 can lose is the lines of the last `interval` at most; warnings and errors
///   are never held.
package final class BatchedLines: @unchecked Sendable {
    /// Standard error, shared by every log handler of the process.
    package static let standardError = BatchedLines(fd: 2)

    /// A batch this big is written by the producer that filled it.
    package static let flushBytes = 32 * 1024

    private let fd: Int32
    /// Guards everything below it, and the flusher's sleep (a condition on the monotonic clock,
    /// so a wall-clock step cannot hold a batch back).
    private let condition = MonotonicCondition()
    private var pending: [UInt8] = []
    private var buffering = false
    private var interval: Duration = .milliseconds(100)
    private var flusherIdle = false
    private var flusherDone = true
    /// Held while a batch is taken and written, so batches reach the descriptor in order.
    /// Lock order: `writeLock`, then `condition`.
    private let writeLock = NSLock()

    package init(fd: Int32) {
        self.fd = fd
        pending.reserveCapacity(Self.flushBytes)
    }

    /// Lines are batched from now on, each batch held at most `interval` (a flusher thread
    /// writes it). Idempotent.
    package func startBuffering(interval: Duration = .milliseconds(100)) {
        condition.lock()
        defer { condition.unlock() }
        guard !buffering else { return }
        // Wait for a flusher a previous `stopBuffering` asked to end.
        while !flusherDone { condition.wait() }
        buffering = true
        flusherDone = false
        self.interval = interval
        NamedThread.start("flashgate-log") { [self] in self.runFlusher() }
    }

    /// Writes what is pending, ends the flusher, and goes back to one `write` per line.
    package func stopBuffering() {
        condition.lock()
        let wasBuffering = buffering
        buffering = false
        condition.unlock()
        guard wasBuffering else { return }
        condition.broadcast()
        flush()
        condition.lock()
        while !flusherDone { condition.wait() }
        condition.unlock()
    }

    /// Appends one line (its own newline included). Unbuffered, it is written at once.
    package func append(_ line: String) {
        var line = line
        line.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    package func append(_ bytes: UnsafeRawBufferPointer) {
        condition.lock()
        guard buffering else {
            condition.unlock()
            // Lines a stop has not written yet go first.
            writeLock.lock()
            writePending()
            Self.writeAll(fd, bytes)
            writeLock.unlock()
            return
        }
        let wasEmpty = pending.isEmpty
        pending.append(contentsOf: bytes)
        let wake = wasEmpty && flusherIdle
        let full = pending.count >= Self.flushBytes
        condition.unlock()
        if wake { condition.signal() }
        if full { flush() }
    }

    /// Writes every pending line now (a warning or worse calls this right after its own line).
    package func flush() {
        writeLock.lock()
        writePending()
        writeLock.unlock()
    }

    /// Takes the batch and writes it; the caller holds `writeLock`.
    private func writePending() {
        condition.lock()
        guard !pending.isEmpty else {
            condition.unlock()
            return
        }
        var batch = [UInt8]()
        batch.reserveCapacity(Self.flushBytes)
        swap(&batch, &pending)
        condition.unlock()
        batch.withUnsafeBytes { Self.writeAll(fd, $0) }
    }

    /// Bytes pending (tests).
    package var pendingCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return pending.count
    }

    private func runFlusher() {
        condition.lock()
        while buffering {
            if pending.isEmpty {
                flusherIdle = true
                condition.wait()
                flusherIdle = false
                continue
            }
            // Let the batch gather; a stop or a producer's own flush may end the wait early.
            condition.wait(for: interval)
            condition.unlock()
            flush()
            condition.lock()
        }
        flusherDone = true
        condition.unlock()
        condition.broadcast()
    }

    /// The whole buffer, retrying short writes and `EINTR`; a descriptor that fails otherwise
    /// drops the rest (a log line is never worth a crash or a hang).
    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = Foundation.write(fd, base + offset, bytes.count - offset)
            if written < 0, errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
    }
}

