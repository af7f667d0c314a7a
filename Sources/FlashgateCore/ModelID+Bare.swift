extension ModelID {
    /// The collection prefix a base model may carry: `models/gemini-2.5-flash` names the same model
    /// as `gemini-2.5-flash`.
    package static let basePrefix = "models/"

    /// `text` without one leading `models/`, unvalidated: the form config lookups, prices, metric
    /// labels and the cache key compare model ids in. `tunedModels/…` and every other string come
    /// back unchanged, and only one prefix is dropped (`models/models/x` → `models/x`).
    package static func bare(_ text: String) -> String {
        text.hasPrefix(basePrefix) ? String(text.dropFirst(basePrefix.count)) : text
    }
}
