import FlashgateCore
import NIOHTTP1

/// What a request allows the cache to do, from its `Cache-Control` header.
struct CachePolicy: Sendable {
    var lookup = true
    var store = true
    var coalesce = true

    /// `no-store`: neither look up nor store (nor join others); `no-cache`: skip the lookup, still
    /// store. An in-flight answer is fresh, so `no-cache` may still join one.
    init(headers: HTTPHeaders, enabled: Bool) {
        guard enabled else {
            lookup = false
            store = false
            coalesce = false
            return
        }
        for (name, value) in headers where Self.isCacheControl(name) {
            Self.forEachDirective(in: value) { directive in
                if ASCIICase.equals(directive, "no-store") {
                    lookup = false
                    store = false
                    coalesce = false
                } else if ASCIICase.equals(directive, "no-cache") {
                    lookup = false
                }
            }
        }
    }

    /// Each comma-separated directive of one `Cache-Control` value, spaces and tabs around it
    /// trimmed, as bytes: no substrings, arrays or lowercased copies per request (the header's
    /// canonical-form split cost ~7k instructions a call).
    static func forEachDirective(in value: String, _ body: (Substring.UTF8View) -> Void) {
        let utf8 = value.utf8
        var start = utf8.startIndex
        while start <= utf8.endIndex {
            let end = utf8[start...].firstIndex(of: UInt8(ascii: ",")) ?? utf8.endIndex
            var low = start
            var high = end
            while low < high, utf8[low] == UInt8(ascii: " ") || utf8[low] == UInt8(ascii: "\t") {
                low = utf8.index(after: low)
            }
            while low < high {
                let last = utf8.index(before: high)
                guard utf8[last] == UInt8(ascii: " ") || utf8[last] == UInt8(ascii: "\t") else { break }
                high = last
            }
            if low < high { body(utf8[low..<high]) }
            guard end < utf8.endIndex else { break }
            start = utf8.index(after: end)
        }
    }

    private static func isCacheControl(_ name: String) -> Bool {
        ASCIICase.equals(name.utf8, "cache-control")
    }

    var bypass: Bool { !lookup && !store && !coalesce }
}
