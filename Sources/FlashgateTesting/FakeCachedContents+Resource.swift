import FlashgateCore
import Foundation

/// The `/v1beta/cachedContents` endpoints of FakeGemini: create, get, list, patch, delete.
extension FakeCachedContents {
    static func resource(_ request: FakeRequest, rest: String, owner: String, _ state: inout State) -> FakeReply {
        let now = now(state)
        state.entries = state.entries.filter { $0.value.expireMs > now }
        let name = rest.hasPrefix("/") ? "cachedContents" + rest : nil
        switch (request.method, name) {
        case ("POST", nil):
            guard let body = request.bodyJSON, let model = body["model"]?.stringValue, model.hasPrefix("models/") else {
                return .googleError(status: 400, message: "model is required", googleStatus: "INVALID_ARGUMENT")
            }
            let tokens = FakeTokens.count(body)
            guard tokens >= state.minimumTokens else {
                return .googleError(
                    status: 400,
                    message:
                        "Cached content is too small. total_token_count=\(tokens), min_total_token_count=\(state.minimumTokens)",
                    googleStatus: "INVALID_ARGUMENT")
            }
            if let last = body["contents"]?.arrayValue?.last, last["role"]?.stringValue == "model" {
                return .googleError(
                    status: 400, message: "Requests ending with a model turn are not supported.",
                    googleStatus: "INVALID_ARGUMENT")
            }
            guard let expire = expiry(body, now: now) else {
                return .googleError(status: 400, message: "invalid ttl or expireTime", googleStatus: "INVALID_ARGUMENT")
            }
            let id = "cachedContents/fake\(state.nextID)"
            state.nextID += 1
            state.created += 1
            let entry = Entry(
                name: id, model: model, owner: owner, displayName: body["displayName"]?.stringValue, tokens: tokens,
                createMs: now, updateMs: now, expireMs: expire, body: body)
            state.entries[id] = entry
            guard case .object(var answer) = json(entry) else { return .json(JSONWriter.string(json(entry))) }
            switch state.createReport {
            case .counted: break
            case .omitted: answer["usageMetadata"] = nil
            case .literal(let number):
                answer["usageMetadata"] = ["totalTokenCount": (try? JSONParser.parse(number)) ?? .null]
            }
            return .json(JSONWriter.string(.object(answer)))
        case ("GET", nil):
            let mine = state.entries.values.filter { $0.owner == owner }.sorted { $0.name < $1.name }
            return .json(JSONWriter.string(["cachedContents": .array(mine.map(json))]))
        case (let method, let name?):
            guard var entry = state.entries[name] else {
                return .unknownCache(name)
            }
            guard entry.owner == owner else {
                return .cacheNotOwned(name)
            }
            switch method {
            case "GET": return .json(JSONWriter.string(json(entry)))
            case "DELETE":
                state.entries[name] = nil
                return .json("{}")
            case "PATCH":
                guard let body = request.bodyJSON, let expire = expiry(body, now: now, required: true) else {
                    return .googleError(
                        status: 400, message: "only ttl or expireTime can be updated", googleStatus: "INVALID_ARGUMENT")
                }
                entry.expireMs = expire
                entry.updateMs = now
                state.entries[name] = entry
                return .json(JSONWriter.string(json(entry)))
            default:
                return .googleError(status: 405, message: "method not allowed", googleStatus: "INVALID_ARGUMENT")
            }
        default:
            return .googleError(status: 405, message: "method not allowed", googleStatus: "INVALID_ARGUMENT")
        }
    }

    /// `ttl` ("300s") or `expireTime` (RFC 3339); one hour when neither is given (create only).
    private static func expiry(_ body: JSONValue, now: Int64, required: Bool = false) -> Int64? {
        if let ttl = body["ttl"]?.stringValue {
            guard ttl.hasSuffix("s"), let seconds = Double(ttl.dropLast()), seconds >= 0 else { return nil }
            return now + Int64(seconds * 1000)
        }
        if let time = body["expireTime"]?.stringValue {
            guard let date = ISO8601DateFormatter().date(from: time) else { return nil }
            return Int64(date.timeIntervalSince1970 * 1000)
        }
        return required ? nil : now + 3_600_000
    }

    private static func json(_ entry: Entry) -> JSONValue {
        var object: JSONObject = [
            "name": .string(entry.name), "model": .string(entry.model),
            "createTime": .string(rfc3339(entry.createMs)), "updateTime": .string(rfc3339(entry.updateMs)),
            "expireTime": .string(rfc3339(entry.expireMs)),
            "usageMetadata": ["totalTokenCount": JSONValue(entry.tokens)],
        ]
        if let display = entry.displayName { object["displayName"] = .string(display) }
        return .object(object)
    }

    private static func rfc3339(_ ms: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
