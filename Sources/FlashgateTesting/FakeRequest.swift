import FlashgateCore

/// A request as FakeGemini received it, for assertions. Headers keep their order and spelling.
package struct FakeRequest: Sendable {
    package var method: String
    /// The path without the query string.
    package var path: String
    package var query: String?
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]

    package init(method: String, uri: String, headers: [(name: String, value: String)], body: [UInt8]) {
        self.method = method
        if let mark = uri.firstIndex(of: "?") {
            path = String(uri[..<mark])
            query = String(uri[uri.index(after: mark)...])
        } else {
            path = uri
            query = nil
        }
        self.headers = headers
        self.body = body
    }

    /// The first value of a header, by case-insensitive name.
    package func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// One query parameter's raw value (not percent-decoded).
    package func queryItem(_ name: String) -> String? {
        guard let query else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.first.map(String.init) == name { return parts.count > 1 ? String(parts[1]) : "" }
        }
        return nil
    }

    package var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as JSON, or nil when it is not JSON.
    package var bodyJSON: JSONValue? { try? JSONParser.parse(body) }
}
