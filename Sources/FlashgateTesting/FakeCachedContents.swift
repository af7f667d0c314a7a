import FlashgateCore
import Foundation
import Synchronization

/// FakeGemini's `cachedContents`: create, get, list, patch (ttl or expireTime only) and delete
/// on `/v1beta/cachedContents`, and generations that reference a cache.
///
/// Rules it keeps as AI Studio does: a cache belongs to the API key that created it (another key
/// gets 403 PERMISSION_DENIED); create below `minimumTokens` is 400 "Cached content is too
/// small"; an unknown or expired cache is 404; a request that uses a cache and also sends
/// `systemInstruction`, `tools` or `toolConfig` is 400, and so is one without `contents`; the URL
/// model must be the cache's model; a cache whose `contents` end on a model turn is refused at
/// create (400). A cache is a prefix: a request's contents follow the cached contents
/// (`expanded`). Usage of a request on a cache reports `cachedContentTokenCount` (the cache's
/// tokens, its contents included) and counts the cached tokens in `promptTokenCount` too. Token counts come from `FakeTokens`.
/// Invariant: all of it is behind one lock; time is the injected `nowMilliseconds`.
package final class FakeCachedContents: Sendable {
    package struct Entry: Sendable {
        package var name: String
        package var model: String
        package var owner: String
        package var displayName: String?
        package var tokens: Int
        package var createMs: Int64
        package var updateMs: Int64
        package var expireMs: Int64
        package var body: JSONValue
    }

    struct State {
        var entries: [String: Entry] = [:]
        var nextID = 1
        var created = 0
        var minimumTokens = 1024
        var countTokens = false
        var implicitPermille = 0
        var nowMs: Int64?
        var createReport: CreateReport = .counted
    }

    /// What a create's answer says of the cache's tokens.
    package enum CreateReport: Sendable {
        /// `usageMetadata.totalTokenCount` as counted (Gemini's behaviour).
        case counted
        /// No `usageMetadata` at all.
        case omitted
        /// This JSON number, whatever the count (an upstream gone wrong).
        case literal(String)
    }

    /// How create answers report the cache's tokens from now on.
    package func setCreateReport(_ report: CreateReport) { state.withLock { $0.createReport = report } }

    private let state = Mutex(State())

    /// The fake's clock: a test's fixed time when set, else the wall clock.
    package func setNow(milliseconds: Int64?) { state.withLock { $0.nowMs = milliseconds } }

    /// Create below this many tokens is refused (400), as Gemini refuses a too-small cache.
    package func setMinimumTokens(_ tokens: Int) { state.withLock { $0.minimumTokens = tokens } }

    /// When on, every generation's usage counts its prompt with `FakeTokens` (off: the fixed
    /// default usage, unless the request uses a cache).
    package func setCountsTokens(_ on: Bool) { state.withLock { $0.countTokens = on } }

    /// Gemini's implicit cache, simulated: a generation without `cachedContent` reports this share
    /// (in thousandths) of its system instruction, tools and tool config as cached tokens.
    package func setImplicitHits(permille: Int) { state.withLock { $0.implicitPermille = permille } }

    /// Live caches (not expired), by name.
    package var live: [Entry] {
        state.withLock { state in
            let now = Self.now(state)
            return state.entries.values.filter { $0.expireMs > now }.sorted { $0.name < $1.name }
        }
    }

    /// How many creates succeeded in total.
    package var createdCount: Int { state.withLock { $0.created } }

    /// Drops a cache behind Flashgate's back (as a TTL running out or another tool would).
    package func remove(_ name: String) { state.withLock { _ = $0.entries.removeValue(forKey: name) } }

    /// The request as Gemini reads it: a request on a live cache with the cache's system
    /// instruction, tools and tool config, and its `contents` after the cache's contents; any
    /// other request as it is. Nil when it names a cache the fake does not hold.
    package func expanded(_ body: JSONValue) -> JSONValue? {
        guard let name = body["cachedContent"]?.stringValue else { return body }
        return state.withLock { state -> JSONValue? in
            guard let entry = state.entries[name], case .object(var object) = body else { return nil }
            object["cachedContent"] = nil
            for member in ["systemInstruction", "tools", "toolConfig"] {
                if let value = entry.body[member] { object[member] = value }
            }
            let cached = entry.body["contents"]?.arrayValue ?? []
            object["contents"] = .array(cached + (body["contents"]?.arrayValue ?? []))
            return .object(object)
        }
    }

    /// The reply to a request this store answers, or nil when it is not about caches.
    func reply(for request: FakeRequest) -> FakeReply? {
        let path = request.path
        if let range = path.range(of: "/cachedContents") {
            let rest = String(path[range.upperBound...])
            let owner = Self.owner(request)
            return state.withLock { state in Self.resource(request, rest: rest, owner: owner, &state) }
        }
        guard path.hasSuffix(":generateContent") || path.hasSuffix(":streamGenerateContent"),
            let body = request.bodyJSON
        else { return nil }
        let owner = Self.owner(request)
        return state.withLock { state -> FakeReply? in
            var cached = 0
            if let name = body["cachedContent"]?.stringValue {
                let now = Self.now(state)
                guard let entry = state.entries[name], entry.expireMs > now else {
                    return .unknownCache(name)
                }
                guard entry.owner == owner else {
                    return .cacheNotOwned(name)
                }
                if body["systemInstruction"] != nil || body["tools"] != nil || body["toolConfig"] != nil {
                    return .googleError(
                        status: 400,
                        message:
                            "Tool config, tools and system instruction should not be set in the request when using cached content.",
                        googleStatus: "INVALID_ARGUMENT")
                }
                // The request's contents follow the cached ones; it must still send one.
                guard let contents = body["contents"]?.arrayValue, !contents.isEmpty else {
                    return .googleError(
                        status: 400, message: "* GenerateContentRequest.contents: contents is not specified",
                        googleStatus: "INVALID_ARGUMENT")
                }
                guard "models/" + Self.model(in: path) == entry.model else {
                    return .googleError(
                        status: 400,
                        message: "Model used by GenerateContent request and CachedContent have to be the same.",
                        googleStatus: "INVALID_ARGUMENT")
                }
                cached = entry.tokens
            } else if !state.countTokens {
                return nil
            } else if state.implicitPermille > 0 {
                var prefix: JSONObject = [:]
                for member in ["systemInstruction", "tools", "toolConfig"] { prefix[member] = body[member] }
                cached = FakeTokens.count(.object(prefix)) * state.implicitPermille / 1000
            }
            let prompt = FakeTokens.count(body) + (body["cachedContent"] == nil ? 0 : cached)
            var usage = #"{"promptTokenCount":\#(prompt),"candidatesTokenCount":3,"totalTokenCount":\#(prompt + 3)"#
            if cached > 0 { usage += #","cachedContentTokenCount":\#(cached)"# }
            usage += "}"
            var reply = FakeReply.defaultReply(for: request)
            reply.chunks = reply.chunks.map { chunk in
                Array(
                    String(decoding: chunk, as: UTF8.self).replacingOccurrences(of: FakeReply.defaultUsage, with: usage)
                        .utf8)
            }
            return reply
        }
    }

    static func now(_ state: State) -> Int64 {
        state.nowMs ?? Int64(Date().timeIntervalSince1970 * 1000)
    }

    static func owner(_ request: FakeRequest) -> String {
        request.header("x-goog-api-key") ?? request.queryItem("key")
            ?? request.header("authorization").map { String($0.dropFirst("Bearer ".count)) } ?? ""
    }

    static func model(in path: String) -> String {
        guard let start = path.range(of: "/models/") else { return "" }
        return String(path[start.upperBound...].prefix(while: { $0 != ":" && $0 != "/" }))
    }
}

extension FakeReply {
    /// Gemini's answer for a cache name it does not know (or that has expired).
    static func unknownCache(_ name: String) -> FakeReply {
        .googleError(
            status: 404, message: "CachedContent not found (or permission denied): \(name)", googleStatus: "NOT_FOUND")
    }

    /// Gemini's answer for a cache another key created.
    static func cacheNotOwned(_ name: String) -> FakeReply {
        .googleError(
            status: 403, message: "Permission denied on resource \(name) (or it may not exist).",
            googleStatus: "PERMISSION_DENIED")
    }
}
