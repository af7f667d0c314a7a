/// The smallest prefix Gemini caches, per model family, as data (context-caching.md §4: the
/// enforced value where one is known, else the largest documented one, so a create is not
/// refused as too small). Unknown models get 4,096, the floor of every Gemini 3 model.
package enum ContextCacheMinimums {
    /// Model-id prefixes and their minimum tokens; the longest matching prefix wins.
    package static let table: [(prefix: String, tokens: Int)] = [
        ("gemini-2.5-flash-lite", 2048),
        ("gemini-2.5-flash", 1024),
        ("gemini-2.5-pro", 4096),
        ("gemini-3", 4096),
        ("gemini-4", 4096),
    ]

    package static let unknownModel = 4096

    package static func tokens(model: String) -> Int {
        table.filter { model.hasPrefix($0.prefix) }.max { $0.prefix.count < $1.prefix.count }?.tokens ?? unknownModel
    }
}
