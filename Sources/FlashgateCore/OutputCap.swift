/// A team's `max_output_tokens`, enforced on the request that goes upstream, not only assumed by
/// its reservation: a call's worst case is priced at `min(max tokens asked, the team's cap, the
/// model's maximum)` output tokens, so the cap must bound what Gemini may generate, or an answer
/// longer than the cap costs more than was reserved and a strict hard budget can be passed.
///
/// Invariant: after `apply`, the body's generation config asks for at most `cap` output tokens
/// per candidate; a body already asking for no more is left exactly as it was.
package enum OutputCap {
    /// Writes `cap` as the Gemini request's `maxOutputTokens` when it asks for more or names no
    /// limit, in the spelling the body already uses (`generationConfig` / `generation_config`,
    /// `maxOutputTokens` / `max_output_tokens`). A generation config that is not an object is left
    /// for Gemini to refuse. Returns whether the body changed.
    @discardableResult
    package static func apply(_ cap: Int, to body: inout JSONObject) -> Bool {
        let configKey = body["generationConfig"] == nil && body["generation_config"] != nil
            ? "generation_config" : "generationConfig"
        var config: JSONObject
        switch body[configKey] {
        case .object(let object)?: config = object
        case nil, .null?: config = JSONObject()
        default: return false
        }
        let tokensKey = config["maxOutputTokens"] == nil && config["max_output_tokens"] != nil
            ? "max_output_tokens" : "maxOutputTokens"
        if let asked = config[tokensKey]?.intValue, asked <= cap { return false }
        config[tokensKey] = JSONValue(cap)
        body[configKey] = .object(config)
        return true
    }
}
