import FlashgateCore
import Foundation
import Testing

@testable import FlashgateServer

/// The configs shipped under deploy/ for containers and Kubernetes load, and agree with the
/// manifests around them, so they cannot rot unnoticed.
@Suite struct DeployFilesTests {
    static let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../deploy").standardized

    static func text(_ relative: String) throws -> String {
        try String(contentsOf: deploy.appendingPathComponent(relative), encoding: .utf8)
    }

    /// The ConfigMap's flashgate.yaml: the lines from `# BEGIN flashgate.yaml` to
    /// `# END flashgate.yaml`, with the block scalar's indentation removed.
    static func sidecarConfig() throws -> String {
        let lines = try text("kubernetes/flashgate-sidecar.yaml").split(separator: "\n", omittingEmptySubsequences: false)
        let begin = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "# BEGIN flashgate.yaml" })
        let end = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "# END flashgate.yaml" })
        let indent = lines[begin].prefix { $0 == " " }.count
        return lines[begin...end].map { $0.count >= indent ? String($0.dropFirst(indent)) : "" }.joined(separator: "\n")
    }

    /// The integer after `key:` in the manifest, for each occurrence.
    static func manifestIntegers(_ key: String) throws -> [Int] {
        try text("kubernetes/flashgate-sidecar.yaml").split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix(key + ":") else { return nil }
            return Int(trimmed.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces))
        }
    }

    @Test func theKubernetesSidecarConfigIsValid() throws {
        let config = try ConfigFile.parse(Self.sidecarConfig(), environment: ["GEMINI_API_KEY": "k"])
        #expect(config.listen.host == "127.0.0.1")
        #expect(config.listen.port == 8088)
        #expect(config.listen.socketPath == "/run/flashgate/flashgate.sock")
        #expect(config.listen.socketMode == 0o660)
        #expect(config.store.path == "/var/lib/flashgate")
        #expect(config.routes.map(\.name) == ["gemini"])
        #expect(config.keys.map(\.team) == ["app"])
        // The app container's uid is the one billed over the socket.
        let appUID = try #require(Self.manifestIntegers("runAsUser").last)
        #expect(config.teams.first { $0.id == "app" }?.unixUIDs == [UInt32(appUID)])
        // The pod's grace period outlasts Flashgate's drain.
        let grace = try #require(Self.manifestIntegers("terminationGracePeriodSeconds").first)
        #expect(config.limits.shutdownGrace < .seconds(grace))
    }

    @Test func theSharedBudgetsManifestConfigIsValid() throws {
        let lines = try Self.text("kubernetes/flashgate-shared.yaml").split(separator: "\n", omittingEmptySubsequences: false)
        let begin = try #require(lines.firstIndex { $0.contains("# BEGIN flashgate.yaml") })
        let end = try #require(lines.firstIndex { $0.contains("# END flashgate.yaml") })
        let text = lines[(begin + 1)..<end].map { $0.dropFirst(4) }.joined(separator: "\n")
        let config = try ConfigFile.parse(
            text, environment: ["GEMINI_API_KEY": "k", "REDIS_PASSWORD": "p", "FLASHGATE_HOST_ID": "app-0"])
        let shared = try #require(config.shared)
        #expect(shared.address == .tcp(host: "flashgate-redis", port: 6379))
        #expect(shared.hostID == "app-0", "the pod name, from the downward API")
        #expect(shared.outage == .refuse)
        #expect(config.ledger.durability == .lease)
    }

    @Test func theContainerImageConfigIsValid() throws {
        let config = try ConfigFile.parse(Self.text("flashgate.container.yaml"), environment: [:])
        #expect(config.listen.host == "0.0.0.0")
        #expect(config.listen.port == 8088)
        #expect(config.listen.socketPath == "/run/flashgate/flashgate.sock")
        #expect(config.store.path == "/var/lib/flashgate")
    }

    @Test func theUnitStopsLaterThanTheDrainEnds() throws {
        let unit = try Self.text("flashgate.service")
        let line = try #require(unit.split(separator: "\n").first { $0.hasPrefix("TimeoutStopSec=") })
        let timeout = try #require(Int(line.dropFirst("TimeoutStopSec=".count)))
        let config = try ConfigFile.load(path: Self.deploy.appendingPathComponent("flashgate.example.yaml").path, environment: ["GEMINI_API_KEY": "k"])
        #expect(config.limits.shutdownGrace < .seconds(timeout))
    }

    @Test func theGrafanaDashboardAndTheReadmeNameOnlyMetricsThatExist() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let exposed = Set(MetricFamily.all.map(\.name))
        #expect(exposed.count == 38)  // 19 + 10 ledger + 5 shared-budget + 4 context-cache families
        for file in ["deploy/grafana/flashgate-dashboard.json", "README.md"] {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            var named: Set<String> = []
            var rest = Substring(text)
            while let start = rest.range(of: "flashgate_") {
                let tail = rest[start.lowerBound...]
                let name = tail.prefix { $0.isLetter || $0 == "_" }
                named.insert(String(name))
                rest = tail.dropFirst(name.count)
            }
            let unknown = named.filter { name in
                let base = ["_bucket", "_sum", "_count"].reduce(name) { $0.hasSuffix($1) ? String($0.dropLast($1.count)) : $0 }
                return !exposed.contains(base) && !exposed.contains(name)
            }
            #expect(named.count > 5, "\(file) names the metrics")
            #expect(unknown.isEmpty, "\(file) names metrics Flashgate does not expose: \(unknown.sorted())")
        }
    }

}
