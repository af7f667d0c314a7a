import FlashgateWire
import NIOHTTP1

/// The small route table: a request's method and path to an endpoint. Native Gemini paths are
/// served under both `/v1beta` and `/v1` (the google-genai SDK's default).
package enum Endpoint: Sendable, Equatable {
    case health
    case ready
    case adminUsage
    case adminBudgets
    case adminRoutes
    case adminDashboard
    case dashboard
    case metrics
    case listModels
    case nativeListModels
    case model(id: String)
    /// `GET /v1beta/models/{id}`: one model in Gemini's shape (google-genai's `models.get`).
    case nativeModel(id: String)
    case chatCompletions
    /// `POST /v1/responses`.
    case responses
    /// `GET` / `DELETE /v1/responses/{id}`.
    case storedResponse(id: String)
    case embeddings
    case native(model: String, method: NativeMethod)
    /// `/v1beta/cachedContents` (nil id: the collection) and `/v1beta/cachedContents/{id}`.
    case cachedContents(id: String?)
    case notFound
    case methodNotAllowed(allowed: String)

    /// The one rule for whose error envelope a request gets, used for every endpoint's errors and
    /// for the connection handler's early refusals alike: Google's for the native API (`/v1beta…`,
    /// `/v1/models/{model}:{method}`), OpenAI's for everything else, including a path that is
    /// unknown or did not parse (most clients of a gateway speak it).
    package static func dialect(ofPath path: String?) -> Dialect {
        guard let path else { return .openAI }
        let native = path.hasPrefix("/v1beta") || (path.hasPrefix("/v1/models/") && path.contains(":"))
        return native ? .google : .openAI
    }

    package static func match(method: HTTPMethod, path: String) -> Endpoint {
        switch path {
        case "/healthz": return method == .GET || method == .HEAD ? .health : .methodNotAllowed(allowed: "GET")
        case "/readyz": return method == .GET || method == .HEAD ? .ready : .methodNotAllowed(allowed: "GET")
        case "/v1/models": return method == .GET ? .listModels : .methodNotAllowed(allowed: "GET")
        case "/v1beta/models": return method == .GET ? .nativeListModels : .methodNotAllowed(allowed: "GET")
        case "/admin/usage": return method == .GET ? .adminUsage : .methodNotAllowed(allowed: "GET")
        case "/admin/budgets": return method == .GET ? .adminBudgets : .methodNotAllowed(allowed: "GET")
        case "/admin/routes": return method == .GET ? .adminRoutes : .methodNotAllowed(allowed: "GET")
        case "/admin/dashboard.json": return method == .GET ? .adminDashboard : .methodNotAllowed(allowed: "GET")
        case "/dashboard": return method == .GET ? .dashboard : .methodNotAllowed(allowed: "GET")
        case "/metrics": return method == .GET || method == .HEAD ? .metrics : .methodNotAllowed(allowed: "GET")
        case "/v1/chat/completions":
            return method == .POST ? .chatCompletions : .methodNotAllowed(allowed: "POST")
        case "/v1/embeddings": return method == .POST ? .embeddings : .methodNotAllowed(allowed: "POST")
        case "/v1/responses": return method == .POST ? .responses : .methodNotAllowed(allowed: "POST")
        default: break
        }
        if path == "/v1beta/cachedContents" {
            return method == .POST || method == .GET ? .cachedContents(id: nil) : .methodNotAllowed(allowed: "GET, POST")
        }
        if path.hasPrefix("/v1beta/cachedContents/") {
            let id = path.dropFirst("/v1beta/cachedContents/".count)
            guard !id.isEmpty, !id.contains("/") else { return .notFound }
            return method == .GET || method == .PATCH || method == .DELETE
                ? .cachedContents(id: String(id)) : .methodNotAllowed(allowed: "GET, PATCH, DELETE")
        }
        if path.hasPrefix("/v1/responses/") {
            let id = path.dropFirst("/v1/responses/".count)
            guard !id.isEmpty, !id.contains("/") else { return .notFound }
            return method == .GET || method == .DELETE
                ? .storedResponse(id: String(id)) : .methodNotAllowed(allowed: "GET, DELETE")
        }
        for prefix in ["/v1beta/models/", "/v1/models/"] where path.hasPrefix(prefix) {
            let rest = path.dropFirst(prefix.count)
            if let colon = rest.lastIndex(of: ":") {
                let model = String(rest[..<colon])
                guard !model.isEmpty, let native = NativeMethod(rawValue: String(rest[rest.index(after: colon)...])) else {
                    return .notFound
                }
                return method == .POST ? .native(model: model, method: native) : .methodNotAllowed(allowed: "POST")
            }
            if !rest.isEmpty && !rest.contains("/") {
                guard method == .GET else { return .methodNotAllowed(allowed: "GET") }
                return prefix == "/v1/models/" ? .model(id: String(rest)) : .nativeModel(id: String(rest))
            }
        }
        return .notFound
    }
}
