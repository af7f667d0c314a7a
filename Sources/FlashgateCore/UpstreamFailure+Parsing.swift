/// The two ways an upstream names a wait: a protobuf `Duration` string in `RetryInfo.retryDelay`
/// and the HTTP `Retry-After` header. Both are parsed exactly (no floating point), so a delay of
/// `3.957525076s` is waited to the nanosecond and never rounded below what the upstream asked.
extension UpstreamFailure {
    /// Parses a protobuf JSON `Duration`: decimal seconds with 0–9 fractional digits and an `s`
    /// suffix (`"36s"`, `"3.957525076s"`). A negative, malformed or absurdly long value is `nil`.
    package static func parseProtobufDuration(_ text: String) -> Duration? {
        var utf8 = Substring(text).utf8
        guard utf8.last == UInt8(ascii: "s") else { return nil }
        utf8 = utf8.dropLast()
        let parts = utf8.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, let seconds = digits(whole, maxCount: 12) else { return nil }
        var nanos: Int64 = 0
        if parts.count == 2 {
            let fraction = parts[1]
            guard let value = digits(fraction, maxCount: 9) else { return nil }
            nanos = value
            for _ in fraction.count..<9 { nanos *= 10 }
        }
        return .seconds(seconds) + .nanoseconds(nanos)
    }

    /// Parses `Retry-After`: delay-seconds, or an IMF-fixdate HTTP-date taken relative to
    /// `nowUnixSeconds` (a date in the past means "now": zero). Obsolete date forms are `nil`.
    package static func parseRetryAfter(_ text: String, nowUnixSeconds: Int64) -> Duration? {
        var trimmed = Substring(text)
        while trimmed.first == " " || trimmed.first == "\t" { trimmed.removeFirst() }
        while trimmed.last == " " || trimmed.last == "\t" { trimmed.removeLast() }
        if let seconds = digits(trimmed.utf8, maxCount: 12) { return .seconds(seconds) }
        guard let date = parseHTTPDate(String(trimmed)) else { return nil }
        return .seconds(max(0, date - nowUnixSeconds))
    }

    /// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to seconds since the Unix epoch.
    package static func parseHTTPDate(_ text: String) -> Int64? {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 6, fields[0].count == 4, fields[0].last == ",", fields[5] == "GMT",
            fields[1].count == 2, let day = digits(fields[1].utf8, maxCount: 2),
            let month = months.firstIndex(of: String(fields[2])),
            fields[3].count == 4, let year = digits(fields[3].utf8, maxCount: 4)
        else { return nil }
        let clock = fields[4].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, clock.allSatisfy({ $0.count == 2 }),
            let hour = digits(clock[0].utf8, maxCount: 2), let minute = digits(clock[1].utf8, maxCount: 2),
            let second = digits(clock[2].utf8, maxCount: 2),
            (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        let days = daysFromCivil(year: year, month: Int64(month + 1), day: day)
        return days * 86_400 + hour * 3_600 + minute * 60 + second
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// A non-empty run of ASCII digits, at most `maxCount` long (so it cannot overflow).
    private static func digits(_ bytes: some Collection<UInt8>, maxCount: Int) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= maxCount else { return nil }
        var value: Int64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
