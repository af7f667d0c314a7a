/// The cache stage's decision for a generation, so `Generation.run` reads as one `switch` per
/// stage: answered from the cache, joined to an identical call in flight, or on its way upstream.
///
/// Invariant: only `.miss` and `.bypass` go on to admission; a hit and a join never pay.
enum CacheLookup: Sendable {
    /// A stored answer, already rendered in the client's mode (cost $0) and recorded as a hit.
    case hit(GatewayResponse)
    /// An identical call already in flight: this client follows it and pays $0.
    case joined(Flight)
    /// Nothing stored nor in flight: the call goes upstream, and its answer may be stored and joined.
    case miss
    /// The request allows no caching (`Cache-Control: no-store`, or the cache is off): the call
    /// goes upstream alone and its answer is neither stored nor shared.
    case bypass
}
