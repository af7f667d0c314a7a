import Foundation
import Testing

@testable import FlashgateCore

/// `process.scheduling`: Flashgate's threads run under the policy the config names.
@Suite(.serialized) struct ThreadSchedulingTests {
    /// Runs `body` on a fresh thread (so the test's own thread keeps its policy).
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.start()
        }
    }

    @Test func aThreadTakesEitherPolicyWithoutPrivilege() async {
        let seen = await Self.onThread { () -> [ThreadScheduling.Policy?] in
            let before = ThreadScheduling.currentThreadPolicy
            let batch = ThreadScheduling.apply(.batch)
            let during = ThreadScheduling.currentThreadPolicy
            let normal = ThreadScheduling.apply(.normal)
            return [before, batch ? during : nil, normal ? ThreadScheduling.currentThreadPolicy : nil]
        }
        #expect(seen == [.normal, .batch, .normal])
    }

    @Test func flashgatesOwnThreadsApplyThePolicyChosenBeforeTheyStart() async {
        #expect(ThreadScheduling.chosen == .normal)
        ThreadScheduling.choose(.batch)
        let batch = await withCheckedContinuation { continuation in
            NamedThread.start("fg-test-batch") { continuation.resume(returning: ThreadScheduling.currentThreadPolicy) }
        }
        ThreadScheduling.choose(.normal)
        let normal = await withCheckedContinuation { continuation in
            NamedThread.start("fg-test-normal") { continuation.resume(returning: ThreadScheduling.currentThreadPolicy) }
        }
        #expect(batch == .batch)
        #expect(normal == .normal)
    }

    @Test func theConfigNamesThePolicyAndRefusesAnyOther() throws {
        func load(_ value: String) throws -> FlashgateConfig {
            try FlashgateConfig.load(
                .map([(key: "process", value: .map([(key: "scheduling", value: .scalar(value))]))]), environment: [:])
        }
        #expect(FlashgateConfig.embeddedDefaults(environment: [:]).scheduling == .normal)
        #expect(try load("batch").scheduling == .batch)
        #expect(try load("normal").scheduling == .normal)
        #expect(throws: ConfigError.self) { try load("fifo") }
        do {
            _ = try load("fifo")
        } catch let error as ConfigError {
            #expect("\(error)".contains("process.scheduling"), "\(error)")
        }
        var old = FlashgateConfig.embeddedDefaults(environment: [:])
        var new = old
        new.scheduling = .batch
        #expect(RestartOnly.changes(from: old, to: new) == ["process.scheduling"])
        RestartOnly.keep(old, in: &new)
        #expect(new.scheduling == .normal)
        old.scheduling = .batch
        #expect(RestartOnly.changes(from: old, to: old).isEmpty)
        // Each key once: `ledger` had been checked twice, so a reload warned of it twice.
        var ledger = old
        ledger.ledger.commitInterval = .milliseconds(20)
        #expect(RestartOnly.changes(from: old, to: ledger) == ["ledger"])
    }
}
