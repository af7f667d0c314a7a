import ArgumentParser
import FlashgateCore
import Foundation

extension Cache {
    /// `flashgate cache purge`: delete entries by team, model and age.
    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete cached answers matching every filter given; prints how many went.",
            discussion: "With no filter, --all is required to empty the cache.")

        @Option(name: .long, help: "Only this team's entries (\"\" for the shared scope).")
        var team: String?

        @Option(name: .long, help: "Only entries for this client-facing model id.")
        var model: String?

        @Option(name: .long, help: "Only entries created longer ago than this: 90s, 30m, 12h, 7d.")
        var olderThan: String?

        @Flag(name: .long, help: "Purge every entry (when no filter is given).")
        var all = false

        @OptionGroup var location: CacheLocation

        func validate() throws {
            if let olderThan, Self.milliseconds(olderThan) == nil {
                throw ValidationError("--older-than: expected a duration such as 90s, 30m, 12h or 7d, got '\(olderThan)'")
            }
            if team == nil && model == nil && olderThan == nil && !all {
                throw ValidationError("give --team, --model or --older-than, or --all to purge everything")
            }
        }

        func run() throws {
            guard let cache = try location.open() else { return }
            defer { cache.close() }
            let purged = try cache.purge(team: team, model: model, olderThanMs: olderThan.flatMap(Self.milliseconds))
            print("purged \(purged) \(purged == 1 ? "entry" : "entries") from \(try location.resolve().directory)")
        }

        /// The config's durations (`250ms`, `10s`, `5m`, `1h`) plus days (`7d`), in milliseconds.
        static func milliseconds(_ text: String) -> Int64? {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if trimmed.hasSuffix("d") {
                guard let days = Double(trimmed.dropLast()), days >= 0, days.isFinite, days < 1e6 else { return nil }
                return Int64((days * 86_400_000).rounded())
            }
            guard let duration = ConfigMap.parseDuration(trimmed) else { return nil }
            let (seconds, attoseconds) = duration.components
            return seconds * 1000 + attoseconds / 1_000_000_000_000_000
        }
    }
}
