import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateWire
import Foundation
import NIOHTTP1

/// Gemini's native `cachedContents` endpoints, passed through per team: a team creates caches on
/// the route of the model it names (with that route's key), and lists, reads, updates and
/// deletes only the caches it created. Creation is a paid call (the cached tokens as input), and
/// the team pays the rent: reserved before Gemini is asked, for the ttl it asks, and settled by
/// the time the cache lived (`context_create` and `context_storage` ledger rows).
///
/// Invariant: a cache another team (or automatic caching) created answers 404, as if it did not
/// exist; nothing reaches Gemini for it.
struct CachedContents: Sendable {
    let caches: ContextCaches

    func callAsFunction(_ request: GatewayRequest, id: String?) throws(FlashgateError) -> GatewayResult {
        let caller: Caller
        do throws(FlashgateError) {
            caller = try caches.accountant.caller(request).get()
        } catch {
            throw request.refused(error, caller: nil)
        }
        let now = caches.nowMilliseconds()
        guard let id else {
            if request.method == .GET { return list(caller, now: now) }
            let body = try request.jsonBody()
            return try create(caller, body: body, now: now)
        }
        let name = "cachedContents/" + id
        let (held, expired) = caches.book.client(name, team: caller.team, nowMs: now)
        if let expired { caches.settle([expired], endedMs: expired.expiresMs) }
        guard let live = held ?? caches.book.restorable(name, team: caller.team, nowMs: now).flatMap(adopt) else {
            throw FlashgateError(.notFound, "\(name) is not found")
        }
        switch request.method {
        case .GET:
            return .deferred { writer in await writer.respond(await forward(live, method: "GET", body: [])) }
        case .DELETE:
            return .deferred { writer in
                let answer = await forward(live, method: "DELETE", body: [])
                if (200..<300).contains(Int(answer.status.code)) || answer.status == .notFound,
                    let gone = caches.book.removeClient(name)
                {
                    caches.settle([gone], endedMs: caches.nowMilliseconds())
                }
                await writer.respond(answer)
            }
        default:
            let body = try request.jsonBody()
            guard let seconds = Self.lifetime(body, nowMs: now, required: true) else {
                throw FlashgateError.invalid("only ttl (e.g. \"3600s\") or expireTime can be updated")
            }
            return try patch(live, caller: caller, body: body, seconds: seconds)
        }
    }

    private func list(_ caller: Caller, now: Int64) -> GatewayResult {
        for owner in caches.book.restorable(team: caller.team, nowMs: now) { _ = adopt(owner) }
        let owned = caches.book.clients(team: caller.team, nowMs: now)
        return .deferred { writer in
            var found: [JSONValue] = []
            var done: Set<String> = []
            for live in owned where !done.contains("\(live.route)#\(live.keyIndex)") {
                done.insert("\(live.route)#\(live.keyIndex)")
                guard
                    let answer = try? await caches.client.forward(
                        live.target.route, method: "GET", name: nil, body: [], keyIndex: live.keyIndex,
                        query: "pageSize=1000"),
                    answer.isSuccess, let parsed = try? JSONParser.parse(answer.body)
                else { continue }
                let names = Set(owned.map(\.name))
                found += (parsed["cachedContents"]?.arrayValue ?? []).filter {
                    names.contains($0["name"]?.stringValue ?? "")
                }
            }
            await writer.respond(.json(["cachedContents": .array(found)]))
        }
    }

    /// A client cache made before a restart, taken up into the book on the route that made it
    /// (nil when the config no longer has that route for its model). Its rent was settled to its
    /// expiry when Flashgate stopped, so it owes nothing until an update extends it past that.
    private func adopt(_ owner: ContextCacheOwner) -> ContextCacheBook.Live? {
        guard let placement = owner.placement,
            let plan = try? caches.routes.plan(model: ModelID.bare(placement.clientModel)),
            let target = plan.targets.first(where: {
                $0.route.name == placement.route && RouteTable.holdsContextCaches($0.route)
            })
        else { return nil }
        return caches.book.adoptClient(
            ContextCacheBook.Live(
                name: owner.name, target: target, keyIndex: placement.keyIndex, tokens: placement.tokens,
                caller: Caller(team: owner.team, key: placement.callerKey), clientModel: placement.clientModel,
                pricedModel: placement.pricedModel, segmentStartMs: owner.expiresMs, expiresMs: owner.expiresMs,
                storage: nil))
    }

    func forward(_ live: ContextCacheBook.Live, method: String, body: [UInt8]) async -> GatewayResponse {
        do {
            let answer = try await caches.client.forward(
                live.target.route, method: method, name: live.name, body: body, keyIndex: live.keyIndex)
            return Generation.forwarded(answer)
        } catch {
            return .error(error, dialect: .google)
        }
    }

    /// Seconds a create or update asks the cache to live: `ttl` ("300s") or `expireTime` /
    /// `expire_time` (RFC 3339; Gemini reads both spellings); an hour when a create names neither
    /// (Gemini's default). Nil, refused, when the value is not one of those, when both are named
    /// (Gemini's `expiration` is one of them), or past 999,999,999 seconds.
    static func lifetime(_ body: JSONValue, nowMs: Int64, required: Bool = false) -> Int64? {
        let ttl = body["ttl"].flatMap { $0.isNull ? nil : $0 }
        var expiries: [JSONValue] = []
        GeminiSpelling.each(body, "expireTime", "expire_time") { expiries.append($0) }
        guard (ttl == nil ? 0 : 1) + expiries.count <= 1 else { return nil }
        if let value = ttl {
            guard let ttl = value.stringValue, ttl.hasSuffix("s"), let seconds = Double(ttl.dropLast()), seconds >= 0,
                seconds < 1e9
            else {
                return nil
            }
            return Int64(seconds.rounded(.up))
        }
        if let value = expiries.first {
            guard let time = value.stringValue else { return nil }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            guard let date = formatter.date(from: time) ?? ISO8601DateFormatter().date(from: time) else { return nil }
            let seconds = (date.timeIntervalSince1970 * 1000 - Double(nowMs) + 999) / 1000
            guard seconds < 1e9 else { return nil }
            return max(0, Int64(seconds.rounded(.down)))
        }
        return required ? nil : 3600
    }
}
