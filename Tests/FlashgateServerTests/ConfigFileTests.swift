import FlashgateCore
import FlashgateTesting
import Foundation
import Testing

@testable import FlashgateServer

@Suite struct ConfigFileTests {
    static let examplePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../deploy/flashgate.example.yaml").standardized.path

    @Test func theShippedExampleIsValid() throws {
        let config = try ConfigFile.load(path: Self.examplePath, environment: ["GEMINI_API_KEY": "k"])
        #expect(config.listen.socketPath == "/run/flashgate/flashgate.sock")
        #expect(config.listen.socketMode == 0o660)
        #expect(config.routes.map(\.name) == ["gemini", "openai-backup", "offline"])
        #expect(config.route(named: "openai-backup")?.baseURL == "https://generativelanguage.googleapis.com/v1beta/openai")
        #expect(config.models.first { $0.id == "fast" }?.upstreamModel == "gemini-2.5-flash")
        let flash = try #require(config.model(answering: "flash"))
        #expect(flash.id == "gemini-3.5-flash")
        #expect(
            flash.routes == [
                ModelRoute(route: "gemini", upstreamModel: "gemini-3.5-flash", weight: 3),
                ModelRoute(route: "openai-backup", upstreamModel: "gemini-3.5-flash"),
            ])
        #expect(flash.hedge == HedgeConfig(after: .seconds(2)))
        #expect(config.retry == .standard)
        #expect(config.breaker == CircuitBreakerConfig())
    }

    /// The Vertex routes the example shows commented out (they need real credentials) are valid too.
    @Test func theExamplesCommentedVertexRoutesLoad() throws {
        let text = try String(contentsOfFile: Self.examplePath, encoding: .utf8)
        let start = try #require(text.range(of: "  # - name: vertex-europe"))
        let end = try #require(text.range(of: "  # An OpenAI-compatible backup"))
        let dir = try TempDirectory()
        defer { dir.remove() }
        try "{}".write(toFile: dir.file("sa.json"), atomically: true, encoding: .utf8)
        let routes = text[start.lowerBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in line.hasPrefix("  # - ") || line.hasPrefix("  #   ") ? "  " + line.dropFirst(4) : line }
            .joined(separator: "\n")
            .replacingOccurrences(of: "/etc/flashgate/vertex-sa.json", with: dir.file("sa.json"))
        let config = try ConfigFile.parse("routes:\n" + routes, environment: ["VERTEX_EXPRESS_KEY": "x"])
        #expect(config.routes.map(\.name) == ["vertex-europe", "vertex-us", "vertex-express"])
        #expect(config.routes[0].vertex?.credentials == .serviceAccountFile(path: dir.file("sa.json")))
        #expect(config.routes[0].baseURL == "https://europe-west4-aiplatform.googleapis.com")
        #expect(config.routes[1].vertex?.credentials == .tokenFile(path: "/run/flashgate/vertex-token"))
        #expect(config.routes[2].vertex?.credentials == .expressKey(Secret("x")))
    }

    @Test func yamlErrorsAndTypeErrorsAreReported() {
        #expect(throws: ConfigError.self) { try ConfigFile.parse("listen: [unclosed", environment: [:]) }
        #expect {
            try ConfigFile.parse("listen:\n  port: eighty\n", environment: [:])
        } throws: { error in
            "\(error)".hasPrefix("listen.port:")
        }
    }

    /// Durations past what Int64 milliseconds hold trapped while the file was read, in `check`
    /// and in a SIGHUP reload (which took the running gateway down); past a hundred years they
    /// are refused with the key's path, as any bad value is.
    @Test(arguments: [
        ("cache:\n  ttl: 1e19s\n", "cache.ttl"),
        ("limits:\n  shutdown_grace: 9999999999999h\n", "limits.shutdown_grace"),
        ("responses:\n  ttl: 4000000000000ms\n", "responses.ttl"),
        ("ledger:\n  retention:\n    rows: 999999999999999d\n", "ledger.retention.rows"),
    ])
    func durationsTooLongForAnyClockAreRefused(_ yaml: String, _ path: String) {
        #expect {
            try ConfigFile.parse(yaml, environment: [:])
        } throws: { error in
            "\(error)".hasPrefix("\(path):")
        }
        #expect(ConfigMap.parseDuration("876000h") == .seconds(876_000 * 3600))
    }

    /// A few hundred bytes of nested YAML aliases expand to billions of values (750 MB at six
    /// levels, gigabytes and an abort at seven): refused once the expanded count passes the cap.
    @Test func aliasBombsAreRefusedBeforeTheyExpand() {
        var yaml = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...9 {
            let refs = Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
            yaml += "a\(level): &a\(level) [\(refs)]\n"
        }
        #expect(yaml.utf8.count < 1000)
        #expect {
            try ConfigFile.parse(yaml, environment: [:])
        } throws: { error in
            "\(error)".contains("more than 250000 values")
        }
        #expect(throws: ConfigError.self) {
            try ConfigFile.parse(String(repeating: "#", count: (16 << 20) + 1), environment: [:])
        }
    }

    @Test func emptyFileMeansDefaults() throws {
        let config = try ConfigFile.parse("", environment: [:])
        #expect(config.routes.map(\.kind) == [.mock])
    }

    @Test func staleSocketFileIsReplacedAndRemovedAtShutdown() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let path = dir.file("s.sock")
        // A socket file left behind by a process that died without cleaning up.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        close(fd)
        #expect(FileManager.default.fileExists(atPath: path))

        var config = TestGateway.mockConfig()
        config.listen.host = nil
        config.listen.socketPath = path
        config.listen.socketMode = 0o600
        let gateway = try await TestGateway.start(config: config)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let client = try await RawHTTPClient.connect(unixSocket: path)
        #expect(try await client.request("GET", "/readyz")?.status == 200)
        await client.close()
        await gateway.stop()
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
