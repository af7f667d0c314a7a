import Foundation
import Testing

@testable import FlashgateStorage

@Suite struct StoreEnvironmentTests {
    let tmp = TemporaryDirectory()

    func open(durable: Bool = true) throws -> StoreEnvironment {
        try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: durable)
    }

    @Test func putGetDelete() throws {
        let env = try open()
        defer { env.close() }
        let db = try env.database("cache")
        try env.write { txn in
            try txn.put(db, key: Array("a".utf8), value: Array("one".utf8))
            try txn.put(db, key: Array("b".utf8), value: [UInt8]())
        }
        #expect(try env.read { try $0.get(db, key: Array("a".utf8)) } == Array("one".utf8))
        #expect(try env.read { try $0.get(db, key: Array("b".utf8)) } == [])
        #expect(try env.read { try $0.get(db, key: Array("missing".utf8)) } == nil)

        let deleted = try env.write { try $0.delete(db, key: Array("a".utf8)) }
        let deletedAgain = try env.write { try $0.delete(db, key: Array("a".utf8)) }
        #expect(deleted)
        #expect(!deletedAgain)
        #expect(try env.read { try $0.get(db, key: Array("a".utf8)) } == nil)
    }

    @Test func overwriteReplacesValue() throws {
        let env = try open()
        let db = try env.database("cache")
        try env.write { try $0.put(db, key: [1], value: [1, 1]) }
        try env.write { try $0.put(db, key: [1], value: [2]) }
        #expect(try env.read { try $0.get(db, key: [1]) } == [2])
    }

    @Test func readYourWritesInsideTheWriteTransaction() throws {
        let env = try open()
        let db = try env.database("ledger")
        try env.write { txn in
            try txn.put(db, key: [7], value: [42])
            #expect(try txn.get(db, key: [7]) == [42])
            #expect(try txn.count(db) == 1)
            try txn.delete(db, key: [7])
            #expect(try txn.get(db, key: [7]) == nil)
            try txn.put(db, key: [7], value: [43])
        }
        #expect(try env.read { try $0.get(db, key: [7]) } == [43])
    }

    @Test func throwingWriteClosureLeavesNothing() throws {
        struct Boom: Error {}
        let env = try open()
        let db = try env.database("ledger")
        try env.write { try $0.put(db, key: [1], value: [1]) }
        #expect(throws: Boom.self) {
            try env.write { txn in
                try txn.put(db, key: [2], value: [2])
                try txn.delete(db, key: [1])
                throw Boom()
            }
        }
        #expect(try env.read { try $0.get(db, key: [2]) } == nil)
        #expect(try env.read { try $0.get(db, key: [1]) } == [1])
        // The store still takes writes after an abort.
        try env.write { try $0.put(db, key: [3], value: [3]) }
        #expect(try env.read { try $0.count(db) } == 2)
    }

    @Test func dataSurvivesCloseAndReopen() throws {
        do {
            let env = try open()
            let db = try env.database("ledger")
            try env.write { txn in
                for i in 0..<100 { try txn.put(db, key: [UInt8(i)], value: [UInt8](repeating: UInt8(i), count: 1000)) }
            }
            env.close()
        }
        let env = try open()
        defer { env.close() }
        let db = try env.database("ledger")
        #expect(try env.read { try $0.count(db) } == 100)
        #expect(try env.read { try $0.get(db, key: [99]) } == [UInt8](repeating: 99, count: 1000))
    }

    @Test func twoReadTransactionsOnOneThread() throws {
        let env = try open()
        let db = try env.database("cache")
        try env.write { try $0.put(db, key: [1], value: [10]) }
        // Without MDB_NOTLS the inner begin fails with MDB_BAD_RSLOT.
        let inner = try env.read { outer in
            let value = try env.read { try $0.get(db, key: [1]) }
            #expect(try outer.get(db, key: [1]) == [10])
            return value
        }
        #expect(inner == [10])
    }

    @Test func readSnapshotIgnoresLaterWrites() throws {
        let env = try open()
        let db = try env.database("cache")
        try env.write { try $0.put(db, key: [1], value: [1]) }
        try env.read { snapshot in
            try env.write { try $0.put(db, key: [1], value: [2]) }
            #expect(try snapshot.get(db, key: [1]) == [1])
        }
        #expect(try env.read { try $0.get(db, key: [1]) } == [2])
    }

    @Test func namedDatabasesAreIsolated() throws {
        let env = try open()
        let cache = try env.database("cache")
        let ledger = try env.database("ledger")
        #expect(cache != ledger)
        #expect(try env.database("cache") == cache)
        try env.write { txn in
            try txn.put(cache, key: Array("k".utf8), value: Array("cache".utf8))
            try txn.put(ledger, key: Array("k".utf8), value: Array("ledger".utf8))
            try txn.put(ledger, key: Array("only-ledger".utf8), value: [1])
        }
        #expect(try env.read { try $0.get(cache, key: Array("k".utf8)) } == Array("cache".utf8))
        #expect(try env.read { try $0.get(ledger, key: Array("k".utf8)) } == Array("ledger".utf8))
        #expect(try env.read { try $0.get(cache, key: Array("only-ledger".utf8)) } == nil)
        let stats = try env.stats
        #expect(stats.entriesByDatabase == ["cache": 1, "ledger": 2])
        #expect(stats.entries == 3)
        #expect(stats.mapSizeBytes == 16 << 20)
        #expect(stats.usedBytes > 0 && stats.usedBytes <= stats.mapSizeBytes)
    }

    @Test func tooManyDatabasesIsAnError() throws {
        let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 1 << 20, maxDatabases: 1)
        _ = try env.database("one")
        let error = #expect(throws: StoreError.self) { try env.database("two") }
        #expect(error?.isDatabasesFull == true)
    }

    @Test func forEachVisitsEntriesInKeyOrder() throws {
        let env = try open()
        let db = try env.database("cache")
        try env.write { txn in
            for key in [3, 1, 2] as [UInt8] { try txn.put(db, key: [key], value: [key * 10]) }
        }
        var seen: [([UInt8], [UInt8])] = []
        try env.read { txn in try txn.forEach(db) { key, value in seen.append((Array(key), Array(value))) } }
        #expect(seen.map(\.0) == [[1], [2], [3]])
        #expect(seen.map(\.1) == [[10], [20], [30]])
    }

    @Test func withValueLendsBytesWithoutCopy() throws {
        let env = try open()
        let db = try env.database("cache")
        try env.write { try $0.put(db, key: [1], value: Array("hello".utf8)) }
        let count = try env.read { txn in try txn.withValue(db, key: [1]) { $0.count } }
        let missing: Void? = try env.read { txn in
            return try txn.withValue(db, key: [2]) { _ in Issue.record("called for a missing key") }
        }
        #expect(count == 5)
        #expect(missing == nil)
    }

    @Test func aFileWhereTheDirectoryShouldBeNamesThePath() throws {
        #expect(FileManager.default.createFile(atPath: tmp.path, contents: Data("x".utf8)))
        let error = #expect(throws: StoreError.self) {
            try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 1 << 20)
        }
        #expect(error?.path == tmp.path)
        #expect(error?.description.contains(tmp.path) == true)
        #expect(error?.description.contains("not a directory") == true)
    }

    @Test func aFileInTheParentPathIsAnError() throws {
        #expect(FileManager.default.createFile(atPath: tmp.path, contents: Data("x".utf8)))
        let nested = tmp.path + "/store"
        let error = #expect(throws: StoreError.self) {
            try StoreEnvironment.open(directory: nested, maxSizeBytes: 1 << 20)
        }
        #expect(error?.description.contains(tmp.path) == true)
    }

    @Test func createsMissingParentDirectories() throws {
        let nested = tmp.path + "/a/b/store"
        let env = try StoreEnvironment.open(directory: nested, maxSizeBytes: 1 << 20, durable: false)
        defer { env.close() }
        #expect(FileManager.default.fileExists(atPath: nested + "/data.mdb"))
    }

    @Test func useAfterCloseThrows() throws {
        let env = try open()
        let db = try env.database("cache")
        env.close()
        env.close()
        let error = #expect(throws: StoreError.self) { try env.read { try $0.get(db, key: [1]) } }
        #expect(error?.operation == .closed)
    }

    @Test func invalidKeyIsAStoreError() throws {
        let env = try open()
        let db = try env.database("cache")
        let error = #expect(throws: StoreError.self) { try env.write { try $0.put(db, key: [], value: [1]) } }
        #expect(error?.operation == .put)
        #expect(error?.message.isEmpty == false)
    }

    @Test func concurrentWritersAreSerialised() async throws {
        let env = try open(durable: false)
        let db = try env.database("ledger")
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for i in 0..<50 {
                        try? env.write { txn in
                            let old = try txn.get(db, key: [0]).map { Int($0[0]) + Int($0[1]) * 256 } ?? 0
                            let new = old + 1
                            try txn.put(db, key: [0], value: [UInt8(new & 255), UInt8(new >> 8)])
                            try txn.put(db, key: [1, UInt8(worker), UInt8(i)], value: [1])
                        }
                    }
                }
            }
        }
        let total = try env.read { try $0.get(db, key: [0]) }
        #expect(total.map { Int($0[0]) + Int($0[1]) * 256 } == 200)
        #expect(try env.read { try $0.count(db) } == 201)
    }
}
