import Foundation
import Logging

/// A swift-log handler writing one line per event to stderr, as logfmt or JSON. Callers never put
/// prompts or keys in metadata. Invariant: one event is one line: the message and every value go
/// through `LogText.safe` (control characters escaped, each capped at `LogText.valueLimit` bytes),
/// whatever a client managed to get into them.
package struct LogFormatHandler: LogHandler {
    package var logLevel: Logger.Level
    package var metadata: Logger.Metadata = [:]
    private let label: String
    private let format: LogConfig.Format
    /// Where lines go: stderr's batch (`lines`), or a closure a test captures them with.
    private let lines: BatchedLines?
    private let write: @Sendable (String) -> Void

    /// Lines go to stderr through `BatchedLines.standardError`: at once, or in batches while
    /// `serve` buffers them; a warning or worse is never held back.
    package init(label: String, level: Logger.Level, format: LogConfig.Format) {
        self.init(label: label, level: level, format: format, lines: .standardError)
    }

    package init(label: String, level: Logger.Level, format: LogConfig.Format, lines: BatchedLines) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.lines = lines
        self.write = { lines.append($0) }
    }

    package init(
        label: String, level: Logger.Level, format: LogConfig.Format, write: @escaping @Sendable (String) -> Void
    ) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.lines = nil
        self.write = write
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        // The handler's own metadata is usually empty: then the event's is used as it is.
        var merged = event.metadata ?? [:]
        if !metadata.isEmpty { merged = metadata.merging(merged) { $1 } }
        let time = Self.timestamp()
        switch format {
        case .json:
            var object: JSONObject = [
                "time": .string(time), "level": .string(event.level.rawValue),
                "msg": .string(LogText.safe("\(event.message)")),
            ]
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
                object[LogText.safe(key)] = .string(LogText.safe(Self.text(value)))
            }
            write(JSONWriter.string(.object(object)) + "\n")
        case .logfmt:
            write(Self.logfmtLine(time: time, level: event.level, message: "\(event.message)", merged))
        }
        if event.level >= .warning { lines?.flush() }
    }

    /// Writes a line whose fields the caller adds straight into it, in key order, skipping
    /// swift-log's metadata dictionary (the access log's hot path: no array of pairs, no strings
    /// for numbers); the line is the one `log` would write for the same fields. False when this
    /// handler cannot take that shortcut (JSON lines, or metadata of its own to merge): the caller
    /// then logs the usual way.
    package func write(level: Logger.Level, message: String, fields: (inout LogfmtFields) -> Void) -> Bool {
        guard format == .logfmt, metadata.isEmpty else { return false }
        guard level >= logLevel else { return true }
        var line = LogfmtFields()
        Self.appendHead(time: Self.timestamp(), level: level, message: message, to: &line.out)
        fields(&line)
        line.out.append(UInt8(ascii: "\n"))
        if let lines {
            line.out.withUnsafeBytes { lines.append($0) }
            if level >= .warning { lines.flush() }
        } else {
            write(String(decoding: line.out, as: UTF8.self))
        }
        return true
    }

    private static func appendHead(time: String, level: Logger.Level, message: String, to out: inout [UInt8]) {
        appendUTF8("time=", to: &out)
        appendUTF8(time, to: &out)
        appendUTF8(" level=", to: &out)
        appendUTF8(level.rawValue, to: &out)
        appendUTF8(" msg=", to: &out)
        appendValue(message, to: &out)
    }

    /// A string's bytes copied from its own storage (the UTF-8 view's iterator costs several
    /// times more for the short pieces of a line).
    @inline(__always)
    static func appendUTF8(_ text: String, to out: inout [UInt8]) {
        if text.utf8.withContiguousStorageIfAvailable({ out.append(contentsOf: $0) }) == nil { out += text.utf8 }
    }

    /// `time=… level=… msg=… key=value…\n`, keys sorted, every value through `LogText.safe` and
    /// quoted when it must be. Built as bytes: the access log writes one of these per request.
    static func logfmtLine(time: String, level: Logger.Level, message: String, _ metadata: Logger.Metadata) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(384)
        appendHead(time: time, level: level, message: message, to: &out)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            out.append(UInt8(ascii: " "))
            out += LogText.safe(key).utf8
            out.append(UInt8(ascii: "="))
            appendValue(text(value), to: &out)
        }
        out.append(UInt8(ascii: "\n"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `quote(LogText.safe(value))`. The common value (printable ASCII within the cap,
    /// no backslash) needs no escaping, only quotes when it holds a space, `"` or `=`: that case
    /// is a scan and a copy of the string's own storage; anything else takes the general path.
    static func appendValue(_ value: String, to out: inout [UInt8]) {
        let copied = value.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard bytes.count <= LogText.valueLimit else { return false }
            var needsQuotes = bytes.isEmpty
            for byte in bytes {
                if byte < 0x20 || byte >= 0x7F || byte == 0x5C { return false }
                if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "=") {
                    needsQuotes = true
                }
            }
            guard needsQuotes else {
                out.append(contentsOf: bytes)
                return true
            }
            out.append(UInt8(ascii: "\""))
            for byte in bytes {
                if byte == UInt8(ascii: "\"") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
            return true
        }
        if copied != true { out += quote(LogText.safe(value)).utf8 }
    }

    /// A metadata value as text (what string interpolation of it gives, without its machinery).
    static func text(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): return string
        case .stringConvertible(let convertible): return convertible.description
        default: return value.description
        }
    }

    /// Now as ISO 8601 UTC with milliseconds (`2026-11-25T16:41:00.120Z`), from `clock_gettime`
    /// and `gmtime_r`: Foundation's formatter cost tens of microseconds per line, which the access
    /// log pays on every request.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var out = [UInt8]()
        out.reserveCapacity(24)
        func put(_ value: Int, _ digits: Int) {
            var divisor = 1
            for _ in 1..<digits { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        put(Int(parts.tm_year) + 1900, 4)
        out.append(UInt8(ascii: "-"))
        put(Int(parts.tm_mon) + 1, 2)
        out.append(UInt8(ascii: "-"))
        put(Int(parts.tm_mday), 2)
        out.append(UInt8(ascii: "T"))
        put(Int(parts.tm_hour), 2)
        out.append(UInt8(ascii: ":"))
        put(Int(parts.tm_min), 2)
        out.append(UInt8(ascii: ":"))
        put(Int(parts.tm_sec), 2)
        out.append(UInt8(ascii: "."))
        put(Int(now.tv_nsec) / 1_000_000, 3)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Quotes a value that `LogText.safe` already escaped (it has no control character, and its
    /// backslashes are doubled): only a space, `"` or `=` forces quotes, and `"` is the one
    /// character left to escape.
    static func quote(_ value: String) -> String {
        // A byte scan: the characters that force quoting are all ASCII.
        let plain = !value.isEmpty && !value.utf8.contains { byte in
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "=")
        }
        if plain { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// The ` key=value` fields of a logfmt line as they are added: values through `LogText.safe` and
/// quoted when they must be, as `LogFormatHandler.log` writes metadata.
package struct LogfmtFields {
    var out: [UInt8] = []

    init() { out.reserveCapacity(384) }

    /// `key` is a literal of plain ASCII (letters, digits, `_`): nothing in it to escape.
    package mutating func add(_ key: StaticString, _ value: String) {
        appendKey(key)
        LogFormatHandler.appendValue(value, to: &out)
    }

    /// A number, written as digits with `decimals` after the point (none for an integer).
    package mutating func add(_ key: StaticString, _ value: Int64, decimals: Int = 0) {
        appendKey(key)
        FixedPointText.append(value, decimals: decimals, to: &out)
    }

    private mutating func appendKey(_ key: StaticString) {
        out.append(UInt8(ascii: " "))
        key.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "="))
    }
}
