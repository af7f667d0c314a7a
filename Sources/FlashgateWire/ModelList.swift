import FlashgateCore

/// OpenAI `GET /v1/models` rendering, and reading Gemini's model list.
package enum ModelList {
    package static func openAIModel(_ id: String) -> JSONValue {
        ["id": .string(id), "object": "model", "created": 0, "owned_by": "google"]
    }

    package static func openAIList(_ ids: [String]) -> JSONValue {
        ["object": "list", "data": .array(ids.map(openAIModel))]
    }

    /// Ids from a Gemini `ListModelsResponse`, with the `models/` prefix stripped.
    package static func geminiIDs(_ response: JSONValue) -> [String] {
        (response["models"]?.arrayValue ?? []).compactMap { model in
            guard let name = model["name"]?.stringValue else { return nil }
            return ModelID.bare(name)
        }
    }
}
