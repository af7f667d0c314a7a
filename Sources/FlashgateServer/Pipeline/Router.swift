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
    case chatCompletions
    case embeddings
    case native(model: String, method: NativeMethod)
    case notFound(Dialect)
    case methodNotAllowed(Dialect, allowed: String)

    package static func match(method: HTTPMethod, path: String) -> Endpoint {
        switch path {
        case "/healthz": return method == .GET || method == .HEAD ? .health : .methodNotAllowed(.openAI, allowed: "GET")
        case "/readyz": return method == .GET || method == .HEAD ? .ready : .methodNotAllowed(.openAI, allowed: "GET")
        case "/v1/models": return method == .GET ? .listModels : .methodNotAllowed(.openAI, allowed: "GET")
        case "/v1beta/models": return method == .GET ? .nativeListModels : .methodNotAllowed(.google, allowed: "GET")
        case "/admin/usage": return method == .GET ? .adminUsage : .methodNotAllowed(.openAI, allowed: "GET")
        case "/admin/budgets": return method == .GET ? .adminBudgets : .methodNotAllowed(.openAI, allowed: "GET")
        case "/admin/routes": return method == .GET ? .adminRoutes : .methodNotAllowed(.openAI, allowed: "GET")
        case "/admin/dashboard.json": return method == .GET ? .adminDashboard : .methodNotAllowed(.openAI, allowed: "GET")
        case "/dashboard": return method == .GET ? .dashboard : .methodNotAllowed(.openAI, allowed: "GET")
        case "/metrics": return method == .GET || method == .HEAD ? .metrics : .methodNotAllowed(.openAI, allowed: "GET")
        case "/v1/chat/completions":
            return method == .POST ? .chatCompletions : .methodNotAllowed(.openAI, allowed: "POST")
        case "/v1/embeddings": return method == .POST ? .embeddings : .methodNotAllowed(.openAI, allowed: "POST")
        default: break
        }
        for prefix in ["/v1beta/models/", "/v1/models/"] where path.hasPrefix(prefix) {
            let rest = path.dropFirst(prefix.count)
            if let colon = rest.lastIndex(of: ":") {
                let model = String(rest[..<colon])
                guard !model.isEmpty, let native = NativeMethod(rawValue: String(rest[rest.index(after: colon)...])) else {
                    return .notFound(.google)
                }
                return method == .POST ? .native(model: model, method: native) : .methodNotAllowed(.google, allowed: "POST")
            }
            if prefix == "/v1/models/" && !rest.isEmpty && !rest.contains("/") {
                return method == .GET ? .model(id: String(rest)) : .methodNotAllowed(.openAI, allowed: "GET")
            }
        }
        return .notFound(path.hasPrefix("/v1beta") ? .google : .openAI)
    }
}
