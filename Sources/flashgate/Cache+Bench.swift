import ArgumentParser
import Dispatch
import FlashgateCore
import FlashgateStorage
import Foundation
import Logging

extension Cache {
    /// `flashgate cache bench`: how long a lookup takes in a large cache. Hidden: a measuring
    /// tool for developers (run it on a release build), not an operator command.
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fill a temporary cache and time random lookups.", shouldDisplay: false)

        @Option(name: .long, help: "Entries to fill the cache with.")
        var entries = 1_000_000

        @Option(name: .long, help: "Random lookups to time.")
        var lookups = 100_000

        @Option(name: .long, help: "Approximate size of each stored body, uncompressed.")
        var bodyBytes = 1024

        func validate() throws {
            guard entries > 0, lookups > 0, bodyBytes > 0 else { throw ValidationError("sizes must be positive") }
        }

        func run() throws {
            var template = Array("/tmp/fg-cache-bench-XXXXXX".utf8CString)
            guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
                throw ValidationError("cannot create a temporary directory")
            }
            let directory = String(cString: made)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let now = Cache.wallClockMs()
            guard
                let cache = ResponseCacheStore.open(
                    directory: directory, maxBytes: .max, mapSizeBytes: 32 << 30, now: { now },
                    logger: Logger(label: "flashgate.cache.bench"))
            else { throw ExitCode(1) }
            defer { cache.close() }

            let fillStart = DispatchTime.now().uptimeNanoseconds
            for i in 0..<entries {
                cache.store(Self.key(i), Self.entry(i, bodyBytes: bodyBytes, now: now))
                if i % 10_000 == 9_999 { cache.flush() }
            }
            cache.flush()
            let fillSeconds = Double(DispatchTime.now().uptimeNanoseconds - fillStart) / 1e9
            let stats = cache.stats()
            let fileBytes = (try? FileManager.default.attributesOfItem(atPath: directory + "/data.mdb")[.size] as? Int) ?? 0
            print("filled \(stats.entries) entries in \(String(format: "%.1f", fillSeconds)) s "
                + "(\(Int(Double(entries) / fillSeconds)) stores/s); values \(Cache.humanBytes(stats.bytes)), "
                + "file \(Cache.humanBytes(fileBytes))")

            var rng = SeededRandom(seed: 42)
            let warmUp = min(lookups, 10_000)
            for _ in 0..<warmUp { _ = cache.lookup(Self.key(Int(rng.next() % UInt64(entries)))) }
            var samples = [UInt64]()
            samples.reserveCapacity(lookups)
            var hits = 0
            var bodyTotal = 0
            for _ in 0..<lookups {
                let key = Self.key(Int(rng.next() % UInt64(entries)))
                let start = DispatchTime.now().uptimeNanoseconds
                let found = cache.lookup(key)
                samples.append(DispatchTime.now().uptimeNanoseconds - start)
                if let found {
                    hits += 1
                    bodyTotal += found.body.count
                }
            }
            samples.sort()
            func percentile(_ p: Double) -> String {
                let ns = samples[min(samples.count - 1, Int(Double(samples.count) * p))]
                return String(format: "%.1f µs", Double(ns) / 1000)
            }
            let mean = Double(samples.reduce(0, +)) / Double(samples.count) / 1000
            print("\(lookups) random lookups, \(hits) hits, mean body \(hits > 0 ? bodyTotal / hits : 0) B:")
            print("  p50 \(percentile(0.50))  p90 \(percentile(0.90))  p99 \(percentile(0.99))  "
                + "p99.9 \(percentile(0.999))  max \(percentile(1.0))  mean \(String(format: "%.1f µs", mean))")
        }

        /// 32 pseudo-random bytes, like the SHA-256 digests real callers use.
        static func key(_ i: Int) -> [UInt8] {
            var rng = SeededRandom(seed: UInt64(i))
            var out: [UInt8] = []
            out.reserveCapacity(32)
            for _ in 0..<4 { withUnsafeBytes(of: rng.next()) { out += $0 } }
            return out
        }

        /// A Gemini-like JSON answer of about `bodyBytes`, with words varied by `i`.
        static func entry(_ i: Int, bodyBytes: Int, now: Int64) -> CacheEntry {
            let words = [
                "gateway", "cache", "token", "budget", "stream", "model", "answer", "prompt", "route", "latency",
                "sidecar", "thinking", "signature", "usage", "request", "response",
            ]
            var rng = SeededRandom(seed: UInt64(i) &+ 0xC0FFEE)
            var text = ""
            while text.utf8.count < max(0, bodyBytes - 160) {
                text += words[Int(rng.next() % UInt64(words.count))]
                text += rng.next() % 7 == 0 ? ". " : " "
            }
            let body = #"{"candidates":[{"content":{"role":"model","parts":[{"text":"\#(text)"}]},"finishReason":"STOP"}],"#
                + #""usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":\#(i % 500)},"modelVersion":"gemini-2.5-flash"}"#
            return CacheEntry(
                body: Array(body.utf8), team: "team-\(i % 8)", model: "gemini-2.5-flash", createdAtMs: now,
                expiresAtMs: now + 86_400_000, costMicroUSD: 150,
                usage: ["prompt": 12, "output": i % 500, "thoughts": 0, "cached": 0])
        }
    }
}
