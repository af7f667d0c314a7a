import FlashgateCore
import Foundation
import Logging
import Testing

@testable import FlashgateStorage

/// One server per store directory: a second one's start would take the first one's open budget
/// leases for an unclean stop's and charge them as spent.
@Suite struct StoreLockTests {
    let tmp = TemporaryDirectory("store-lock")

    @Test func aSecondServerOnTheSameStoreIsRefusedUntilTheFirstCloses() throws {
        var config = FlashgateConfig(routes: [])
        config.store.path = tmp.path
        let logger = Logger(label: "test")
        let first = try Stores.open(config, logger: logger)
        #expect {
            _ = try Stores.open(config, logger: logger)
        } throws: { error in
            "\(error)".contains("in use by another flashgate serve")
        }
        first.close()
        let second = try Stores.open(config, logger: logger)
        second.close()
    }
}
