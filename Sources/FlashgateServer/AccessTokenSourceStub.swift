// Temporary until the Vertex credentials land in FlashgateUpstream.
package protocol AccessTokenSource: Sendable {
    func token() async throws -> String
    func invalidate() async
}
