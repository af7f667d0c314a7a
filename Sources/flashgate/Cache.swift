import ArgumentParser
import FlashgateCore
import FlashgateServer
import FlashgateStorage
import Foundation
import Logging

/// `flashgate cache …`: look into and trim the response cache from outside the server.
struct Cache: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show or purge the response cache.",
        discussion: """
            The cache is an LMDB file in <store>/cache. LMDB lets a second process open it while \
            `flashgate serve` runs, so these commands work against a live server: a purge takes \
            effect for it at once, and stats include what it has recorded so far (hit counters are \
            saved about once a second).
            """,
        subcommands: [Stats.self, Purge.self, Bench.self])
}

/// Where the cache is: `--store DIR`, the store path of `--config FILE`, or `./.flashgate`.
struct CacheLocation: ParsableArguments {
    @Option(name: .long, help: "Store directory (default ./.flashgate); the cache is <store>/cache.")
    var store: String?

    @Option(name: .long, help: "Take the store directory from this YAML config file.")
    var config: String?

    func validate() throws {
        if store != nil && config != nil { throw ValidationError("give --store or --config, not both") }
    }

    /// The cache directory and the map size to open it with.
    func resolve() throws -> (directory: String, mapSizeBytes: Int) {
        var settings = StoreConfig()
        if let config {
            do {
                settings = try ConfigFile.load(path: config, environment: ProcessInfo.processInfo.environment, secrets: .notNeeded).store
            } catch {
                FileHandle.standardError.write(Data("flashgate: \(config): \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        if let store { settings.path = store }
        return (settings.path + "/cache", settings.maxSizeBytes)
    }

    /// Opens the existing cache, or nil (after saying so) when none was ever created there.
    func open() throws -> ResponseCacheStore? {
        let (directory, mapSizeBytes) = try resolve()
        guard FileManager.default.fileExists(atPath: directory + "/data.mdb") else {
            // A mistyped --store must not look like a purge that worked (the ledger commands
            // exit 1 the same way).
            FileHandle.standardError.write(Data("flashgate: no response cache at \(directory)\n".utf8))
            throw ExitCode(1)
        }
        let logger = Logger(label: "flashgate.cache")
        guard
            let cache = ResponseCacheStore.open(
                directory: directory, maxBytes: .max, mapSizeBytes: mapSizeBytes, now: Cache.wallClockMs, logger: logger)
        else {
            FileHandle.standardError.write(Data("flashgate: cannot open the response cache at \(directory)\n".utf8))
            throw ExitCode(1)
        }
        return cache
    }
}

extension Cache {
    static let wallClockMs: @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// `flashgate cache stats`.
    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the cache's entries, stored bytes, hit ratio and dollars saved.")

        @OptionGroup var location: CacheLocation

        func run() throws {
            guard let cache = try location.open() else { return }
            defer { cache.close() }
            let stats = cache.stats()
            print("cache: \(try location.resolve().directory)")
            print("entries: \(stats.entries)")
            print("bytes: \(stats.bytes) (\(Cache.humanBytes(stats.bytes)) compressed)")
            print("hits: \(stats.hits)")
            print("misses: \(stats.misses)")
            print("hit ratio: \(String(format: "%.1f%%", stats.hitRatio * 100))")
            print("saved: \(Cache.dollars(microUSD: stats.savedMicroUSD))")
        }
    }

    static func humanBytes(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// `$1.234567` from integer micro-dollars, without floating point.
    static func dollars(microUSD: Int64) -> String {
        let text = MicroUSD(microUSD).dollars
        return text.hasPrefix("-") ? "-$" + text.dropFirst() : "$" + text
    }
}
