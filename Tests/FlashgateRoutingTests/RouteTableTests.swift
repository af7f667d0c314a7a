import FlashgateCore
import FlashgateTesting
import FlashgateUpstream
import FlashgateWire
import Foundation
import Testing

@testable import FlashgateRouting

/// What a route builds for each attempt, with no network: the URL of every route kind, where the
/// service tier travels, and that no client model id can change a URL's path.
@Suite struct RouteTableTests {
    @Test func vertexURLsFollowTheLocation() async throws {
        func url(
            _ location: String, credentials: VertexRouteConfig.Credentials = .token(Secret("t"))
        ) async throws -> UpstreamRequest {
            let vertex = VertexRouteConfig(project: "proj", location: location, credentials: credentials)
            let route = RouteConfig(
                name: "v", kind: .vertex, baseURL: VertexRouteConfig.defaultBaseURL(location: location), apiKeys: [],
                apiVersion: "v1beta1", vertex: vertex, passthrough: false)
            let table = RouteTable(
                config: FlashgateConfig(routes: [route]), http: MockTransport(), tokens: ["v": StaticTestToken()])
            let target = ResolvedRoute(route: route, upstreamModel: "gemini-3.5-flash", transport: MockTransport())
            return try await table.request(target, method: .streamGenerateContent, sse: true, body: [])
        }
        let regional = try await url("europe-west4")
        #expect(
            regional.url
                == "https://europe-west4-aiplatform.googleapis.com/v1beta1/projects/proj/locations/europe-west4/publishers/google/models/gemini-3.5-flash:streamGenerateContent?alt=sse"
        )
        #expect(regional.headers.contains { $0.name == "authorization" && $0.value == "Bearer test-token" })
        #expect(
            try await url("global").url.hasPrefix(
                "https://aiplatform.googleapis.com/v1beta1/projects/proj/locations/global/"))
        #expect(
            try await url("eu").url.hasPrefix(
                "https://aiplatform.eu.rep.googleapis.com/v1beta1/projects/proj/locations/eu/"))
        let express = try await url("global", credentials: .expressKey(Secret("express")))
        #expect(
            express.url
                == "https://aiplatform.googleapis.com/v1beta1/publishers/google/models/gemini-3.5-flash:streamGenerateContent?alt=sse"
        )
        #expect(express.headers.contains { $0.name == "x-goog-api-key" && $0.value == "express" })
        #expect(!express.headers.contains { $0.name == "authorization" })
    }

    @Test func vertexGetsTheTierAsAHeaderAndFlexWaitsLonger() async throws {
        let vertex = VertexRouteConfig(project: "proj", location: "global", credentials: .expressKey(Secret("e")))
        let route = RouteConfig(
            name: "v", kind: .vertex, baseURL: VertexRouteConfig.defaultBaseURL(location: "global"), apiKeys: [],
            apiVersion: "v1beta1", vertex: vertex, passthrough: false)
        let config = FlashgateConfig(routes: [route])
        let table = RouteTable(config: config, http: MockTransport())
        let target = ResolvedRoute(route: route, upstreamModel: "gemini-3.5-flash", transport: MockTransport())
        let body = Array(#"{"contents":[{"parts":[{"text":"hi"}]}],"serviceTier":"flex"}"#.utf8)
        let request = try await table.request(target, method: .generateContent, sse: false, body: body)
        // Vertex answers a body `serviceTier` with 400: the tier travels as a header instead.
        #expect(request.headers.contains { $0.name == "x-vertex-ai-llm-shared-request-type" && $0.value == "flex" })
        #expect((try JSONParser.parse(request.body))["serviceTier"] == nil)
        #expect(request.timeouts.firstByte == .seconds(900))
        let plain = try await table.request(
            target, method: .generateContent, sse: false, body: Array(#"{"contents":[]}"#.utf8))
        #expect(!plain.headers.contains { $0.name == "x-vertex-ai-llm-shared-request-type" })
        #expect(plain.timeouts == UpstreamTimeouts.standard)
    }

    @Test func theTierIsFoundInABodyOnlyWhereItIsNamed() {
        let tier = { (text: String) in RouteTable.requestedTier(Array(text.utf8)).tier }
        #expect(tier(#"{"contents":[],"serviceTier":"priority"}"#) == .priority)
        #expect(tier(#"{"service_tier":"FLEX","contents":[]}"#) == .flex)
        #expect(tier(#"{"contents":[{"parts":[{"text":"sss serviceTie"}]}]}"#) == .standard)
        #expect(RouteTable.requestedTier(Array(#"{"contents":[]}"#.utf8)).body == nil)
        #expect(RouteTable.requestedTier([]).tier == .standard)
    }

    /// Random strings from an alphabet rich in URL syntax: whatever a route kind builds from one
    /// is either refused (a 400 naming `model`) or has exactly the path of its template.
    @Test(arguments: [RouteConfig.Kind.gemini, .vertex])
    func randomIdsNeverChangeTheURLsPath(kind: RouteConfig.Kind) async throws {
        let alphabet = Array("abcz019-._/:?#%@&=+ AZ\\\u{0}\n~é..//")
        let plain = Array("abcz019-.")
        var random = SeededRandom(seed: 11)
        let route: RouteConfig
        let prefix: String
        switch kind {
        case .vertex:
            let vertex = VertexRouteConfig(project: "proj", location: "europe-west4", credentials: .token(Secret("t")))
            route = RouteConfig(
                name: "r", kind: .vertex, baseURL: "https://europe-west4-aiplatform.googleapis.com", apiKeys: [],
                apiVersion: "v1beta1", vertex: vertex, passthrough: true)
            prefix = "/v1beta1/projects/proj/locations/europe-west4/publishers/google/models/"
        default:
            route = RouteConfig(
                name: "r", kind: .gemini, baseURL: "https://generativelanguage.googleapis.com", apiKey: Secret("k"),
                passthrough: true)
            prefix = "/v1beta/models/"
        }
        let table = RouteTable(
            config: FlashgateConfig(routes: [route]), http: MockTransport(), tokens: ["r": StaticTestToken()])
        var accepted = 0
        for round in 0..<3_000 {
            let length = Int.random(in: 1...24, using: &random)
            // Mostly id characters, so many strings pass and the URLs they make are checked.
            var text = String(
                (0..<length).map { _ in
                    Int.random(in: 0..<10, using: &random) < 8
                        ? plain[Int.random(in: 0..<plain.count, using: &random)]
                        : alphabet[Int.random(in: 0..<alphabet.count, using: &random)]
                })
            if round % 3 == 0 { text = "gemini-" + text }
            if round % 7 == 0 { text = "models/" + text }
            let target = ResolvedRoute(route: route, upstreamModel: text, transport: MockTransport())
            let request: UpstreamRequest
            do {
                request = try await table.request(target, method: .streamGenerateContent, sse: true, body: [])
            } catch {
                #expect(error.httpStatus == 400, "\(text)")
                #expect(error.param == "model", "\(text)")
                continue
            }
            accepted += 1
            let url = try #require(URLComponents(string: request.url), "\(text)")
            let name = ModelID.bare(text)
            #expect(url.percentEncodedPath == prefix + name + ":streamGenerateContent", "\(text)")
            #expect(url.path == prefix + name + ":streamGenerateContent", "\(text)")
            #expect(url.query == "alt=sse", "\(text)")
            #expect(url.fragment == nil, "\(text)")
        }
        #expect(accepted > 300)
    }

    /// AI Studio URLs are built once per route, model and method: the memo gives back the URL the
    /// checks built, never keeps an id they refuse, and stays within its bound.
    @Test func studioURLsAreBuiltOnceAndTheMemoIsBounded() async throws {
        let route = RouteConfig(
            name: "r", kind: .gemini, baseURL: "https://generativelanguage.googleapis.com", apiKey: Secret("k"),
            passthrough: true)
        let table = RouteTable(config: FlashgateConfig(routes: [route]), http: MockTransport())
        func url(_ model: String, _ method: NativeMethod = .generateContent) async throws -> String {
            let target = ResolvedRoute(route: route, upstreamModel: model, transport: MockTransport())
            return try await table.request(target, method: method, sse: true, body: []).url
        }
        let base = "https://generativelanguage.googleapis.com/v1beta/models/"
        #expect(try await url("gemini-2.5-flash") == base + "gemini-2.5-flash:generateContent")
        #expect(try await url("gemini-2.5-flash") == base + "gemini-2.5-flash:generateContent")
        #expect(try await url("models/gemini-2.5-flash") == base + "gemini-2.5-flash:generateContent")
        #expect(try await url("gemini-2.5-flash", .streamGenerateContent) == base + "gemini-2.5-flash:streamGenerateContent?alt=sse")
        #expect(try await url("gemini-2.5-flash", .streamGenerateContent) == base + "gemini-2.5-flash:streamGenerateContent?alt=sse")
        #expect(table.studioURLCount == 3)
        for _ in 0..<2 {
            await #expect(throws: FlashgateError.self) { try await url("gemini/../../v1/files") }
        }
        #expect(table.studioURLCount == 3)
        for index in 0..<(RouteTable.studioURLLimit + 44) {
            #expect(try await url("gemini-\(index)") == base + "gemini-\(index):generateContent")
            #expect(table.studioURLCount <= RouteTable.studioURLLimit)
        }
        #expect(try await url("gemini-7") == base + "gemini-7:generateContent")
    }
}

struct StaticTestToken: AccessTokenSource {
    func token() async throws -> String { "test-token" }
    func invalidate() async {}
}
