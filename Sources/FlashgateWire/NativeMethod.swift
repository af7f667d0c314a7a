/// Native Gemini methods Flashgate serves: the last path segment after `models/{model}:`, which
/// the endpoint matcher reads and the route table puts back in each upstream URL.
package enum NativeMethod: String, Sendable {
    case generateContent
    case streamGenerateContent
    case countTokens
    case embedContent
    case batchEmbedContents
}
